package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// BenchmarkAttention times the fused kernels, and the step-wise ones (used
// when hooks need scores and pattern) for comparison, on the toy model's
// shape: batch 64, pos 40, heads 4, d_head 16.
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

// BenchmarkAttentionScores compares the causal-triangle scores kernel with
// tensor.Gemm over the full pos×pos square per (batch, head), using leading
// dimensions instead of copies. Re-run it when Gemm's kernels change: the
// triangle kernel is used as long as it wins at the toy model's shape.
func BenchmarkAttentionScores(b *testing.B) {
	s := attnShape{64, 40, 4, 16}
	B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
	rng := rand.New(rand.NewPCG(1, 1))
	q, k := attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
	scores := make([]float32, s.patternLen())
	b.Run(s.String()+"/kernel=triangle", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			nn.AttnScoresForward(scores, q, k, B, T, H, dh)
		}
		b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
	b.Run(s.String()+"/kernel=gemm-"+tensor.Kernel(), func(b *testing.B) {
		b.ReportAllocs()
		stride := H * dh
		for b.Loop() {
			for bb := range B {
				for h := range H {
					off, so := (bb*T*H+h)*dh, (bb*H+h)*T*T
					tensor.Gemm(false, true, T, T, dh, 0.25, q[off:], stride, k[off:], stride, 0, scores[so:], T)
				}
			}
		}
		b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
}
