package patching

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mechinterp/workbench/transformer"
)

// toyConfig is the benchmark model: 2 attention-only layers,
// d_model 64, 4 heads of 16, d_vocab 64, 40 positions.
func toyConfig() transformer.Config {
	return transformer.Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DVocab: 64, NCtx: 40, AttnOnly: true, Seed: 1}
}

// BenchmarkHeadPatching times a full head-output patching sweep (every
// layer × head × position: 320 patches) of the toy model on a batch of 16,
// and reports it beside the naive sweep, one full forward pass per patch on
// the same two workers.
func BenchmarkHeadPatching(b *testing.B) {
	const batch, pos = 16, 40
	m, err := transformer.New(toyConfig())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	clean, corrupted := randTokens(rng, batch, pos, 64), randTokens(rng, batch, pos, 64)
	metric := LogitDiff{Answer: []int{1}, Wrong: []int{2}, Pos: Last}
	ctx := context.Background()
	b.Run("d_model=64/pos=40/batch=16", func(b *testing.B) {
		e, err := New(ctx, m, clean, corrupted, metric)
		if err != nil {
			b.Fatal(err)
		}
		var g *Grid
		b.ReportAllocs()
		for b.Loop() {
			if g, err = e.Sweep(ctx, HeadOut, Options{ByPos: true}); err != nil {
				b.Fatal(err)
			}
		}
		sweep := b.Elapsed().Seconds() / float64(b.N)
		b.StopTimer()
		start := time.Now()
		if _, err := naiveSweep(ctx, m, clean, corrupted, metric, g.Sites, 2); err != nil {
			b.Fatal(err)
		}
		naive := time.Since(start).Seconds()
		b.ReportMetric(sweep, "s/sweep")
		b.ReportMetric(naive, "naive-s/sweep")
		b.ReportMetric(float64(len(g.Sites))/sweep, "patches/s")
	})
}
