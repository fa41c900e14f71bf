package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mechinterp/workbench/nn"
)

// attnFastTol bounds |fast − reference| / (1 + |reference|) between the
// AVX-512 path and the Gemm-based kernels. Today they agree bit for bit:
// both sum every dot product in one FMA chain in index order (over the full
// square in Gemm, where the extra terms are exact zeros) and share the
// softmax kernels. The bound leaves room for another summation order of
// ≤ 128 terms of magnitude ≲ 1 (each rounding ≤ 6e-8), chained through
// three products in backward.
const attnFastTol = 2e-5

// attnFastShapes cover the fast path's tails: pos 1, below, at and above
// each multiple of 16, the toy model's 40, and below, at and past the
// register-resident rows (128) and the transposition chunk (128, 256).
var attnFastShapes = []struct{ batch, pos, heads int }{
	{1, 1, 1}, {2, 2, 3}, {1, 3, 2}, {2, 5, 1}, {1, 15, 2}, {2, 16, 1}, {1, 17, 4},
	{1, 31, 1}, {1, 32, 2}, {2, 33, 1}, {3, 40, 4}, {1, 47, 2}, {1, 48, 1}, {1, 49, 3},
	{1, 64, 1}, {1, 100, 2}, {1, 127, 1}, {1, 128, 1}, {2, 129, 2}, {1, 143, 1}, {1, 145, 1},
	{1, 255, 1}, {1, 256, 1}, {2, 257, 1}, {1, 300, 2}, {1, 520, 1},
}

func TestAttentionFastMatchesReference(t *testing.T) {
	if !nn.AttnAVX512 {
		t.Skip("no AVX-512: the fast path is not built or not supported here")
	}
	const dh = 16
	for si, s := range attnFastShapes {
		for _, inScale := range []float64{1, 4} {
			t.Run(fmt.Sprintf("batch=%d/pos=%d/heads=%d/input_scale=%g", s.batch, s.pos, s.heads, inScale), func(t *testing.T) {
				if !nn.AttnFast(s.pos, dh) {
					t.Fatalf("nn.AttnFast(%d, %d) = false", s.pos, dh)
				}
				seed := uint64(10*si) + uint64(inScale)
				rng := rand.New(rand.NewPCG(seed, seed))
				B, T, H := s.batch, s.pos, s.heads
				nq, np := B*T*H*dh, B*H*T*T
				q, k, v, dz := attnRand(rng, nq, inScale), attnRand(rng, nq, inScale), attnRand(rng, nq, 1), attnRand(rng, nq, 1)

				// Forward: reference, fused fast path, step-wise fast path.
				zr, sr, pr := make([]float32, nq), make([]float32, np), make([]float32, np)
				nn.AttentionForwardGo(zr, sr, pr, q, k, v, B, T, H, dh)
				zf, sf, pf := make([]float32, nq), make([]float32, np), make([]float32, np)
				nn.AttentionForward(zf, sf, pf, q, k, v, B, T, H, dh)
				attnCompareF32(t, "scores", sf, sr, attnFastTol)
				attnCompareF32(t, "pattern", pf, pr, attnFastTol)
				attnCompareF32(t, "z", zf, zr, attnFastTol)
				for i := range pf { // exact zeros and −Inf above the diagonal
					if j, r := i%T, i/T%T; j > r && (pf[i] != 0 || math.Signbit(float64(pf[i])) || !math.IsInf(float64(sf[i]), -1)) {
						t.Fatalf("above the diagonal at %d: pattern %v, scores %v", i, pf[i], sf[i])
					}
				}
				zn, pn := make([]float32, nq), make([]float32, np)
				nn.AttentionForward(zn, nil, pn, q, k, v, B, T, H, dh) // in-place softmax
				ss, ps, zs := make([]float32, np), make([]float32, np), make([]float32, nq)
				nn.AttnScoresForward(ss, q, k, B, T, H, dh)
				nn.AttnSoftmaxForward(ps, ss, B, H, T)
				nn.AttnMixForward(zs, ps, v, B, T, H, dh)
				for _, c := range []struct {
					name      string
					got, want []float32
				}{{"nil-scores pattern", pn, pf}, {"nil-scores z", zn, zf}, {"step-wise scores", ss, sf}, {"step-wise pattern", ps, pf}, {"step-wise z", zs, zf}} {
					for i := range c.want {
						if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
							t.Fatalf("%s[%d] = %v, fused %v: want bit-identical", c.name, i, c.got[i], c.want[i])
						}
					}
				}

				// Backward onto random priors, every subset of gradients.
				prior := [3][]float32{attnRand(rng, nq, 1), attnRand(rng, nq, 1), attnRand(rng, nq, 1)}
				clone := func(x []float32) []float32 { return append([]float32(nil), x...) }
				want := [3][]float32{clone(prior[0]), clone(prior[1]), clone(prior[2])}
				nn.AttentionBackwardGo(want[0], want[1], want[2], dz, pr, q, k, v, make([]float32, T*T), B, T, H, dh)
				for mask := range 8 {
					var got [3][]float32
					for g := range got {
						if mask&(1<<g) != 0 {
							got[g] = clone(prior[g])
						}
					}
					scratch := attnRand(rng, T*T, 1e6) // garbage: must be overwritten
					nn.AttentionBackward(got[0], got[1], got[2], dz, pf, q, k, v, scratch, B, T, H, dh)
					for g, name := range []string{"dq", "dk", "dv"} {
						if got[g] != nil {
							attnCompareF32(t, fmt.Sprintf("mask %03b %s", mask, name), got[g], want[g], attnFastTol)
						}
					}
				}
				if t.Failed() {
					t.Logf("seed %d", seed)
				}
			})
		}
	}
}

// TestAttentionFastAnyPos runs the fast path's kernels past
// nn.AttnFastMaxPos, where the public functions choose the Gemm path, and
// compares them with it: they must handle any pos.
func TestAttentionFastAnyPos(t *testing.T) {
	if !nn.AttnAVX512 {
		t.Skip("no AVX-512: the fast path is not built or not supported here")
	}
	const dh = 16
	for _, s := range []attnShape{{1, nn.AttnFastMaxPos + 1, 2, dh}, {2, 1000, 1, dh}, {1, 1024, 1, dh}, {1, 1300, 1, dh}} {
		t.Run(s.String(), func(t *testing.T) {
			if nn.AttnFast(s.pos, dh) {
				t.Fatalf("nn.AttnFast(%d, %d) = true past nn.AttnFastMaxPos = %d", s.pos, dh, nn.AttnFastMaxPos)
			}
			B, T, H := s.batch, s.pos, s.heads
			rng := rand.New(rand.NewPCG(uint64(T), 7))
			q, k, v, dz := attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
			zr, sr, pr := make([]float32, s.qkvLen()), make([]float32, s.patternLen()), make([]float32, s.patternLen())
			nn.AttentionForward(zr, sr, pr, q, k, v, B, T, H, dh)
			zf, sf, pf := make([]float32, s.qkvLen()), make([]float32, s.patternLen()), make([]float32, s.patternLen())
			nn.AttentionForward16(zf, sf, pf, q, k, v, B, T, H)
			attnCompareF32(t, "scores", sf, sr, attnFastTol)
			attnCompareF32(t, "pattern", pf, pr, attnFastTol)
			attnCompareF32(t, "z", zf, zr, attnFastTol)
			want := [3][]float32{make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())}
			nn.AttentionBackward(want[0], want[1], want[2], dz, pr, q, k, v, make([]float32, T*T), B, T, H, dh)
			got := [3][]float32{make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())}
			nn.AttentionBackward16(got[0], got[1], got[2], dz, pf, q, k, v, attnGarbage(T*T), B, T, H)
			for g, name := range []string{"dq", "dk", "dv"} {
				attnCompareF32(t, name, got[g], want[g], attnFastTol)
			}
		})
	}
}

// TestAttnSoftmaxRowsMatchesGo compares the AVX-512 softmax with the
// portable one on hooked-looking scores: −Inf, NaN and huge values below
// the diagonal, garbage above it.
func TestAttnSoftmaxRowsMatchesGo(t *testing.T) {
	if !nn.AttnAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, T := range []int{1, 2, 7, 16, 17, 33, 40, 64, 100, 127, 128, 129, 143, 144, 145, 256, 300, 1000} {
		s := attnRand(rng, T*T, 10)
		for i := range s {
			switch rng.IntN(40) {
			case 0:
				s[i] = float32(math.Inf(-1))
			case 1:
				s[i] = float32(math.NaN())
			case 2:
				s[i] = 200
			}
		}
		for i := 0; i < T; i += 5 { // some fully masked rows
			for j := 0; j <= i; j++ {
				s[i*T+j] = float32(math.Inf(-1))
			}
		}
		got, want := attnRand(rng, T*T, 1), attnRand(rng, T*T, 1)
		nn.AttnSoftmaxRows(&got[0], &s[0], T, 0, T)
		nn.AttnSoftmaxGo(want, s, T)
		attnCompareF32(t, fmt.Sprintf("T=%d pattern", T), got, want, attnFastTol)

		dp := attnRand(rng, T*T, 1)
		dsGot, dsWant := attnRand(rng, T*T, 1), attnRand(rng, T*T, 1)
		nn.AttnSoftmaxBackRows(&dsGot[0], &dp[0], &want[0], T, 0, T)
		nn.AttnSoftmaxBackGo(dsWant, dp, want, T, false)
		attnCompareF32(t, fmt.Sprintf("T=%d dscores", T), dsGot, dsWant, attnFastTol)
	}
}

// TestAttn16PackT checks the transpose, including the repeated last row.
func TestAttn16PackT(t *testing.T) {
	if !nn.AttnAVX512 {
		t.Skip("no AVX-512")
	}
	for _, n := range []int{1, 5, 16, 17, 40, 128, 129, 300} {
		const lds = 37
		src := make([]float32, (n-1)*lds+16)
		for i := range src {
			src[i] = float32(i)
		}
		ld := nn.AttnPad16(n) + 3
		dst := make([]float32, 16*ld)
		nn.Attn16PackT(&dst[0], ld, &src[0], lds, n)
		for d := range 16 {
			for j := range nn.AttnPad16(n) {
				if got, want := dst[d*ld+j], src[min(j, n-1)*lds+d]; got != want {
					t.Fatalf("n=%d: dst[%d][%d] = %v, want %v", n, d, j, got, want)
				}
			}
		}
	}
}

// BenchmarkAttentionPaths compares the fast path with the Gemm reference on
// the toy model's shape (one layer, batch 64).
func BenchmarkAttentionPaths(b *testing.B) {
	const B, T, H, dh = 64, 40, 4, 16
	rng := rand.New(rand.NewPCG(1, 1))
	nq, np := B*T*H*dh, B*H*T*T
	q, k, v, dz := attnRand(rng, nq, 1), attnRand(rng, nq, 1), attnRand(rng, nq, 1), attnRand(rng, nq, 1)
	z, p, dq, dk, dv, scratch := make([]float32, nq), make([]float32, np), make([]float32, nq), make([]float32, nq), make([]float32, nq), make([]float32, T*T)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"go/forward", func() { nn.AttentionForwardGo(z, nil, p, q, k, v, B, T, H, dh) }},
		{"go/backward", func() { nn.AttentionBackwardGo(dq, dk, dv, dz, p, q, k, v, scratch, B, T, H, dh) }},
		{"fast/forward", func() { nn.AttentionForward(z, nil, p, q, k, v, B, T, H, dh) }},
		{"fast/backward", func() { nn.AttentionBackward(dq, dk, dv, dz, p, q, k, v, scratch, B, T, H, dh) }},
	} {
		b.Run(fmt.Sprintf("batch=%d/pos=%d/heads=%d/d_head=%d/%s", B, T, H, dh, c.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.f()
			}
			b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// TestAttentionQueries checks the query-range kernels against the full
// ones: on random ranges (empty, one row, whole, every tail), the rows of
// z and pattern in range are bit-identical to AttentionForward's and those
// out of range untouched (fast path), and the gradients from a dz that is
// zero out of range match AttentionBackward's (which accumulates, where
// the Queries variant overwrites); the pattern rows out of range are
// poisoned with NaN, which the backward must never read.
func TestAttentionQueries(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	for _, s := range []attnShape{{5, 40, 2, 16}, {4, 17, 1, 16}, {3, 33, 3, 16}, {2, 7, 2, 8}, {1, 1, 1, 16}, {2, 100, 1, 16}, {4, 300, 2, 16}, {4, 700, 1, 16}, {4, 300, 1, 8}} {
		t.Run(s.String(), func(t *testing.T) {
			B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
			q, k, v := attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 1)
			lo, hi := make([]int, B), make([]int, B)
			for b := range B {
				switch b % 4 {
				case 0:
					lo[b], hi[b] = 0, T
				case 1:
					lo[b] = rng.IntN(T)
					hi[b] = lo[b] + 1 + rng.IntN(T-lo[b])
				case 2:
					lo[b], hi[b] = T/2, T/2 // empty
				default:
					lo[b], hi[b] = T-1, T
				}
			}
			inRange := func(b, i int) bool { return lo[b] <= i && i < hi[b] }
			zf, pf := make([]float32, s.qkvLen()), make([]float32, s.patternLen())
			nn.AttentionForward(zf, nil, pf, q, k, v, B, T, H, dh)
			const poison = -7.5
			zq, pq := make([]float32, s.qkvLen()), make([]float32, s.patternLen())
			for i := range zq {
				zq[i] = poison
			}
			for i := range pq {
				pq[i] = poison
			}
			nn.AttentionForwardQueries(zq, pq, q, k, v, B, T, H, dh, lo, hi)
			fast := nn.AttnFast(T, dh)
			for b := range B {
				for i := range T {
					for h := range H {
						for d := range dh {
							at := ((b*T+i)*H+h)*dh + d
							if inRange(b, i) && math.Float32bits(zq[at]) != math.Float32bits(zf[at]) {
								t.Fatalf("z[%d,%d,%d,%d] = %v, full %v", b, i, h, d, zq[at], zf[at])
							}
							if fast && !inRange(b, i) && zq[at] != poison {
								t.Fatalf("z[%d,%d,...] out of range written", b, i)
							}
						}
						row := ((b*H+h)*T + i) * T
						for j := range T {
							if inRange(b, i) && math.Float32bits(pq[row+j]) != math.Float32bits(pf[row+j]) {
								t.Fatalf("pattern[%d,%d,%d,%d] = %v, full %v", b, h, i, j, pq[row+j], pf[row+j])
							}
							if fast && !inRange(b, i) && pq[row+j] != poison {
								t.Fatalf("pattern[%d,%d,%d,...] out of range written", b, h, i)
							}
						}
						if !inRange(b, i) && fast {
							for j := range T {
								pq[row+j] = float32(math.NaN()) // must not be read
							}
						}
					}
				}
			}
			dz := attnRand(rng, s.qkvLen(), 1)
			for b := range B {
				for i := range T {
					if !inRange(b, i) {
						clear(dz[(b*T+i)*H*dh : (b*T+i+1)*H*dh])
					}
				}
			}
			// AttentionBackward accumulates onto zeros; the Queries variant
			// overwrites garbage.
			want := [3][]float32{make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())}
			nn.AttentionBackward(want[0], want[1], want[2], dz, pf, q, k, v, make([]float32, T*T), B, T, H, dh)
			for mask := 1; mask < 8; mask++ { // every subset of gradients
				var got [3][]float32
				for g := range got {
					if mask&(1<<g) != 0 {
						got[g] = attnRand(rng, s.qkvLen(), 1e6)
					}
				}
				nn.AttentionBackwardQueries(got[0], got[1], got[2], dz, pq, q, k, v, make([]float32, T*T), B, T, H, dh, lo, hi)
				for g, name := range []string{"dq", "dk", "dv"} {
					if got[g] != nil {
						attnCompareF32(t, fmt.Sprintf("mask %03b %s", mask, name), got[g], want[g], attnFusedTol)
					}
				}
			}
			// Every position: lo = hi = nil, overwriting.
			got := [3][]float32{attnRand(rng, s.qkvLen(), 1e6), attnRand(rng, s.qkvLen(), 1e6), attnRand(rng, s.qkvLen(), 1e6)}
			nn.AttentionBackwardQueries(got[0], got[1], got[2], dz, pf, q, k, v, make([]float32, T*T), B, T, H, dh, nil, nil)
			for g, name := range []string{"dq", "dk", "dv"} {
				attnCompareF32(t, "all positions "+name, got[g], want[g], attnFusedTol)
			}
		})
	}
}

// BenchmarkAttentionLong measures one layer's attention forward and
// backward at the shapes of a d_model 64 model's training step at long
// contexts (4 heads of 16, 4,096 tokens): the d_head = 16 fast path, the
// Gemm path with the AVX-512 row kernels, and the Gemm path with the
// portable softmax (what a bare size guard on the row kernels falls back
// to). Each iteration runs all three in turn, so that they share the
// machine's load, and the metrics are each one's median tokens per second.
func BenchmarkAttentionLong(b *testing.B) {
	const H, dh, tokens = 4, 16, 4096
	for _, T := range []int{256, 512, 1024} {
		B := tokens / T
		rng := rand.New(rand.NewPCG(2, 2))
		nq, np := B*T*H*dh, B*H*T*T
		q, k, v, dz := attnRand(rng, nq, 1), attnRand(rng, nq, 1), attnRand(rng, nq, 1), attnRand(rng, nq, 1)
		z, p, dq, dk, dv, scratch := make([]float32, nq), make([]float32, np), make([]float32, nq), make([]float32, nq), make([]float32, nq), make([]float32, T*T)
		paths := []struct {
			name string
			run  func()
		}{
			{"fast", func() {
				nn.AttentionForward(z, nil, p, q, k, v, B, T, H, dh)
				nn.AttentionBackward(dq, dk, dv, dz, p, q, k, v, scratch, B, T, H, dh)
			}},
			{"gemm", func() {
				nn.AttentionForwardGo(z, nil, p, q, k, v, B, T, H, dh)
				nn.AttentionBackwardGo(dq, dk, dv, dz, p, q, k, v, scratch, B, T, H, dh)
			}},
			{"portable-softmax", func() {
				nn.AttentionForwardPortable(z, nil, p, q, k, v, B, T, H, dh)
				nn.AttentionBackwardPortable(dq, dk, dv, dz, p, q, k, v, scratch, B, T, H, dh)
			}},
		}
		b.Run(fmt.Sprintf("batch=%d/pos=%d/heads=%d/d_head=%d", B, T, H, dh), func(b *testing.B) {
			b.ReportAllocs()
			secs := make([][]float64, len(paths))
			for b.Loop() {
				for i, pth := range paths {
					t0 := time.Now()
					pth.run()
					secs[i] = append(secs[i], time.Since(t0).Seconds())
				}
			}
			for i, pth := range paths {
				b.ReportMetric(float64(B*T)/median(secs[i]), pth.name+"-tok/s")
			}
		})
	}
}

// median returns the median of x (x is reordered).
func median(x []float64) float64 {
	slices.Sort(x)
	if n := len(x); n%2 == 0 {
		return (x[n/2-1] + x[n/2]) / 2
	}
	return x[len(x)/2]
}
