package sae

import (
	"context"
	"testing"

	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// BenchmarkSAETrain trains a 16,384-feature TopK dictionary (k = 32) on
// the residual stream (d_model 512) of a 2-layer model, batch 4,096 rows,
// activations streamed from the model as it runs: the set-up. It
// reports activation rows per second end to end and the dense-equivalent
// GFLOP/s of the dictionary's six products per step (encoder, decoder and
// their four gradient products, 2·batch·d_in·d_sae each), to set beside
// the GEMM benchmark's rate in the same run.
func BenchmarkSAETrain(b *testing.B) {
	c := transformer.Config{NLayers: 2, DModel: 512, NHeads: 8, DHead: 64, DMLP: 2048, DVocab: 1000, NCtx: 128,
		NormalizationType: transformer.NormLN, ActFn: transformer.ActGELUNew}
	m := transformertest.Random(b, c, 1)
	const B, n = 4096, 16384
	s, err := New(Config{DIn: 512, DSAE: n, Activation: TopK, K: 32, HookName: "blocks.1.hook_resid_post"}, 1)
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewSource(m, s.Cfg.HookName, "", randomBatches(c.DVocab, 32, 128, 2), 4*B, 3)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := NewTrainer(s, TrainConfig{Batch: B, LR: 1e-4})
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, B*512)
	ctx := context.Background()
	if err := src.Next(ctx, x, nil, B); err != nil { // fill the buffer before timing
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := src.Next(ctx, x, nil, B); err != nil {
			b.Fatal(err)
		}
		tr.Step(x, nil)
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(B/sec, "act/s")
	b.ReportMetric(6*2*B*512*n/sec/1e9, "GFLOP/s-dense")
}
