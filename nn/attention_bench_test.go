package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/nn"
)

// BenchmarkAttention times the fused kernels, and the step-wise ones (used
// when hooks need scores or pattern) for comparison, on the toy model's
// shape: batch 64, pos 40, heads 4, d_head 16. tok/s counts batch·pos
// positions per second through one attention layer's kernels.
func BenchmarkAttention(b *testing.B) {
	for _, s := range []attnShape{{64, 40, 4, 16}} {
		B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
		rng := rand.New(rand.NewPCG(1, 1))
		q, k, v, dz := attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
		w := newAttnBuffers(s)
		forward := func() { nn.AttentionForward(w.z, nil, w.pattern, q, k, v, B, T, H, dh) }
		backward := func() { nn.AttentionBackward(w.dq, w.dk, w.dv, dz, w.pattern, q, k, v, w.scratch, B, T, H, dh) }
		stepForward := func() {
			nn.AttnScoresForward(w.scores, q, k, B, T, H, dh)
			nn.AttnSoftmaxForward(w.pattern, w.scores, B, H, T)
			nn.AttnMixForward(w.z, w.pattern, v, B, T, H, dh)
		}
		stepBackward := func() {
			clear(w.dpattern)
			clear(w.dscores)
			nn.AttnMixBackward(w.dpattern, w.dv, dz, w.pattern, v, B, T, H, dh)
			nn.AttnSoftmaxBackward(w.dscores, w.dpattern, w.pattern, B, H, T)
			nn.AttnScoresBackward(w.dq, w.dk, w.dscores, q, k, B, T, H, dh)
		}
		for _, c := range []struct {
			name string
			f    func()
		}{
			{"forward", forward},
			{"forward+scores", func() { nn.AttentionForward(w.z, w.scores, w.pattern, q, k, v, B, T, H, dh) }},
			{"forward+backward", func() { forward(); backward() }},
			{"stepwise/forward", stepForward},
			{"stepwise/forward+backward", func() { stepForward(); stepBackward() }},
		} {
			b.Run(s.String()+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.f()
				}
				b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}
