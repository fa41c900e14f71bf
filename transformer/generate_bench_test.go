package transformer

import (
	"context"
	"fmt"
	"testing"

	"github.com/mechinterp/workbench/workers"
)

// decodeWeightBytes is the float32 weight bytes one decoding step reads:
// every parameter once, except the embedding tables, of which it reads one
// row each (tied embeddings read W_E whole as the unembedding).
func decodeWeightBytes(c Config) float64 {
	n := c.NumParams() - c.DVocab*c.DModel + c.DModel
	if c.PositionalEmbeddingType != PosRotary {
		n -= c.NCtx*c.DModel - c.DModel
	}
	if c.TiedEmbeddings {
		n += c.DVocab * c.DModel
	}
	return 4 * float64(n)
}

// BenchmarkGenerateGPT2Small is batch-1 generation with the KV cache: a
// 32-token prompt (one prefill) and 128 new tokens, greedy, on one and two
// workers. tok/s counts new tokens; weight-GB/s is tok/s times the weight
// bytes a decoding step reads (decodeWeightBytes), to compare with
// BenchmarkMemcopy's bandwidth in the same run: decoding at batch 1 reads
// every weight once per token and is bound by memory bandwidth.
func BenchmarkGenerateGPT2Small(b *testing.B) {
	const promptLen, maxNew = 32, 128
	c := gpt2SmallConfig()
	m, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	prompt := [][]int32{toyBatch(1, promptLen, c.DVocab)}
	perTok := decodeWeightBytes(m.Cfg)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("prompt=%d/new=%d/workers=%d", promptLen, maxNew, workers), func(b *testing.B) {
			opts := GenerateOptions{MaxNew: maxNew, Workers: workers}
			b.ReportAllocs()
			for b.Loop() {
				out, err := m.Generate(context.Background(), prompt, opts)
				if err != nil || len(out[0]) != maxNew {
					b.Fatal(len(out), err)
				}
			}
			tps := float64(maxNew) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(tps, "tok/s")
			b.ReportMetric(tps*perTok/1e9, "weight-GB/s")
		})
	}
}

// BenchmarkMemcopy copies a buffer the size of GPT-2 small's decoding
// weights (decodeWeightBytes) with the built-in copy, on one goroutine or
// split in halves between two, and reports GB/s, the bytes copied per
// second (each read once and written once): the memory bandwidth that
// BenchmarkGenerateGPT2Small's weight-GB/s is measured against.
func BenchmarkMemcopy(b *testing.B) {
	n := int(decodeWeightBytes(gpt2SmallConfig().WithDefaults()) / 4)
	src, dst := make([]float32, n), make([]float32, n)
	for i := range src {
		src[i] = float32(i)
	}
	copy(dst, src) // first touch
	for _, nw := range []int{1, 2} {
		b.Run(fmt.Sprintf("bytes=%d/workers=%d", 4*n, nw), func(b *testing.B) {
			pool := workers.New(nw)
			defer pool.Close()
			part := (n + nw - 1) / nw
			task := func(_, i int) {
				lo, hi := i*part, min((i+1)*part, n)
				copy(dst[lo:hi], src[lo:hi])
			}
			for b.Loop() {
				pool.Run(nw, task)
			}
			b.ReportMetric(4*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
