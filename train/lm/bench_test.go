package lm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/data"
)

// BenchmarkTrainLM measures a data-parallel training step (forward,
// backward, AdamW) of the default configuration — with the vocabulary of
// the BPE 'train lm' learns by default, DefaultTrainTokenizer — on random
// tokens, in tokens/s. bench/torch_train_lm.py is the PyTorch reference for the same
// model and batch; run both back to back and compare tok/s.
func BenchmarkTrainLM(b *testing.B) {
	cfg := Default()
	cfg.Text = "(random tokens)"
	rng := rand.New(rand.NewPCG(1, 1))
	toks := make([]int32, 1<<20)
	for i := range toks {
		toks[i] = int32(rng.IntN(DefaultTrainTokenizer))
	}
	sh, err := data.NewShard(toks, DefaultTrainTokenizer)
	if err != nil {
		b.Fatal(err)
	}
	c, err := newCorpus(sh, cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("d_model=%d/heads=%d/pos=%d/batch=%d/vocab=%d/workers=%d", cfg.DModel, cfg.NHeads, cfg.Context, cfg.Batch, DefaultTrainTokenizer, cfg.Workers)
	b.Run(name, func(b *testing.B) {
		tr, o, err := newTrainable(cfg, c)
		if err != nil {
			b.Fatal(err)
		}
		defer tr.Close()
		ctx := context.Background()
		step := 0
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tr.Step(ctx, step); err != nil {
				b.Fatal(err)
			}
			o.Step(cfg.LR)
			step++
		}
		b.ReportMetric(float64(tr.TokensPerStep()*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
}
