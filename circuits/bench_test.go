package circuits

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// BenchmarkCompositionScores times all Q-, K- and V-composition scores of a
// randomly initialised model; the bar is 3 s for 12 layers × 12 heads,
// d_model 768, d_head 64 on two cores. It reports wall seconds (s/op) and
// the CPU seconds of the whole process (cpu-s/op), which tell a slow run
// from a shared machine.
func BenchmarkCompositionScores(b *testing.B) {
	for _, s := range []struct{ nLayers, nHeads, dModel, dHead int }{
		{2, 4, 64, 16},
		{12, 12, 768, 64},
	} {
		name := fmt.Sprintf("layers=%d/heads=%d/d_model=%d/d_head=%d", s.nLayers, s.nHeads, s.dModel, s.dHead)
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			heads := randomHeads(rng, s.nLayers, s.nHeads, s.dModel, s.dHead)
			b.Logf("kernel %s, GOMAXPROCS %d", kernelName(), runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				if _, err := compositionScores(context.Background(), heads); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric((cpu1-cpu0)/float64(b.N), "cpu-s/op")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkFullOVRow times one row query (top 10 of a row) of a full OV
// circuit at GPT-2 vocabulary size; the bar is 50 ms.
func BenchmarkFullOVRow(b *testing.B) {
	const dVocab, dModel, dHead = 50000, 768, 64
	rng := rand.New(rand.NewPCG(2, 2))
	wE := gaussDense(rng, dVocab, dModel, 1)
	wU := gaussDense(rng, dModel, dVocab, 1)
	wV := gaussDense(rng, dModel, dHead, 1)
	wO := gaussDense(rng, dHead, dModel, 1)
	start := time.Now()
	ov, err := FullOV(wE, wV, wO, wU)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("FullOV (forming W_E·W_V and W_O·W_U): %v", time.Since(start))
	b.Run(fmt.Sprintf("d_vocab=%d/d_model=%d", dVocab, dModel), func(b *testing.B) {
		b.ReportAllocs()
		tok := 0
		for b.Loop() {
			_ = ov.RowTopK(tok, 10)
			tok = (tok + 7919) % dVocab
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
	})
}
