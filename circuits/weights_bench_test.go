package circuits

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkRowQuery times Weights.TopBoosted and TopAttended (top 10 of one
// row of the full OV / full QK circuit, straight from the weights) at GPT-2
// vocabulary size; the bar for a full-OV row query is 50 ms.
func BenchmarkRowQuery(b *testing.B) {
	const dVocab, dModel, dHead = 50000, 768, 64
	rng := rand.New(rand.NewPCG(3, 3))
	w := &Weights{
		heads: randomHeads(rng, 1, 1, dModel, dHead),
		WE:    gaussDense(rng, dVocab, dModel, 1),
		WU:    gaussDense(rng, dModel, dVocab, 1),
	}
	for _, q := range []struct {
		name string
		f    func(tok int) ([]Ranked, error)
	}{
		{"TopBoosted", func(tok int) ([]Ranked, error) { return w.TopBoosted(0, 0, tok, 10) }},
		{"TopAttended", func(tok int) ([]Ranked, error) { return w.TopAttended(0, 0, tok, 10) }},
	} {
		b.Run(fmt.Sprintf("%s/d_vocab=%d/d_model=%d", q.name, dVocab, dModel), func(b *testing.B) {
			b.ReportAllocs()
			tok := 0
			for b.Loop() {
				if _, err := q.f(tok); err != nil {
					b.Fatal(err)
				}
				tok = (tok + 7919) % dVocab
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
		})
	}
}
