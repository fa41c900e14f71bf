package lens

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

// benchModel is the toy model: 2 attention-only layers, d_model 64,
// 4 heads of 16, d_vocab 64, 40 positions.
func benchModel(b *testing.B) *transformer.Model {
	return newModel(b, transformer.Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DVocab: 64, NCtx: 40, AttnOnly: true}, 1)
}

func BenchmarkLogit(b *testing.B) {
	m := benchModel(b)
	for _, batch := range []int{16} {
		toks := randTokens(rand.New(rand.NewPCG(1, 1)), batch, 40, 64)
		b.Run(fmt.Sprintf("d_model=64/pos=40/batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Logit(context.Background(), m, toks, Options{TopK: DefaultTopK}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch*40)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

func BenchmarkTrainerStep(b *testing.B) {
	m := benchModel(b)
	for _, batch := range []int{8} {
		data, err := FromTokens(randTokens(rand.New(rand.NewPCG(1, 1)), batch, 40, 64), batch)
		if err != nil {
			b.Fatal(err)
		}
		tr, err := NewTrainer(m, NewTuned(m.Cfg), data, TrainConfig{Steps: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("d_model=64/pos=40/batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.Step(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch*40)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
