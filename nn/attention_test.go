package nn_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

const (
	// attnRefTol bounds |kernel − float64 reference| / (1 + |reference|):
	// float32 dot products of ≤ 16 terms and softmax over ≤ 40 terms, with
	// inputs up to ~±50, lose a few ulps (≈1e-7 each) relative to the largest
	// term, which is then multiplied through two more products in backward.
	attnRefTol = 2e-5
	// attnSumTol bounds |Σ_j pattern[i,j] − 1|: ≤ 40 float32 probabilities,
	// each rounded once when normalised, summed in float64 here.
	attnSumTol = 1e-5
	// attnGradTol bounds GradCheck's error |analytic − numeric| /
	// max(1, |numeric|) with step nn.GradCheckStep: float32 rounding of a loss
	// of ~20 unit terms (≈1e-6) divided by 2h, plus the O(h²) truncation of
	// central differences on bilinear and softmax terms. Observed ≤ 3e-5.
	attnGradTol = 5e-4
	// attnExpTol bounds the relative error of a two-position softmax
	// e^x/(e^x + 1) over x ∈ [−87, 0]: the inline exponential's 4e-7 (cubic
	// polynomial and rounded 2^(j/16) table) plus the normalisation's
	// rounding. The kernel is deterministic; observed ≤ 3e-7.
	attnExpTol = 5e-7
	// attnFusedTol bounds the difference between the fused and step-wise
	// kernels relative to 1 + |value|. Forward and dv run the same calls and
	// are bit-identical; dq and dk sum in a different order (one Gemm over a
	// zero-masked scratch against blocks that never read above the diagonal):
	// ≤ 40 rounded products of magnitude ≲ 1 can differ by up to 40·6e-8;
	// observed ≤ 4e-7.
	attnFusedTol = 4e-6
)

// attnShape is one test configuration.
type attnShape struct{ batch, pos, heads, dHead int }

func (s attnShape) String() string {
	return fmt.Sprintf("batch=%d/pos=%d/heads=%d/d_head=%d", s.batch, s.pos, s.heads, s.dHead)
}

func (s attnShape) qkvLen() int     { return s.batch * s.pos * s.heads * s.dHead }
func (s attnShape) patternLen() int { return s.batch * s.heads * s.pos * s.pos }

// attnShapes are the odd shapes the kernels are compared on: pos 1, 7, 9,
// 17, 33, 40; heads 1..4; d_head 1, 8, 16 (and 5, 3 to miss every 4-wide
// block).
var attnShapes = []attnShape{
	{1, 1, 1, 1},
	{2, 1, 4, 16},
	{1, 7, 1, 1},
	{2, 7, 3, 8},
	{3, 7, 2, 5},
	{1, 40, 4, 16},
	{2, 40, 1, 8},
	{1, 40, 3, 1},
	{2, 9, 4, 3},
	{1, 17, 2, 16}, // the d_head = 16 fast path's tails
	{2, 33, 1, 16},
}

func attnRand(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * rng.NormFloat64())
	}
	return x
}

// attnRef is the readable float64 reference for causal attention: scores
// (masked −Inf), pattern, z, and, given dz, every gradient.
type attnRef struct {
	scores, pattern, z  []float64 // forward: [batch, heads, pos, pos] and [batch, pos, heads, d_head]
	dpattern, dscores   []float64 // backward intermediates (dscores zero above the diagonal)
	dq, dk, dv          []float64 // backward results
	q64, k64, v64, dz64 []float64
	qAt                 func(b, t, h, d int) int // index into [batch, pos, heads, d_head]
	sAt                 func(b, h, i, j int) int // index into [batch, heads, pos, pos]
	scale               float64
}

func newAttnRef(s attnShape, q, k, v, dz []float32) *attnRef {
	r := &attnRef{q64: nn.To64(q), k64: nn.To64(k), v64: nn.To64(v), dz64: nn.To64(dz),
		scale: 1 / math.Sqrt(float64(s.dHead))}
	T, H, dh := s.pos, s.heads, s.dHead
	r.qAt = func(b, t, h, d int) int { return ((b*T+t)*H+h)*dh + d }
	r.sAt = func(b, h, i, j int) int { return ((b*H+h)*T+i)*T + j }
	r.scores = make([]float64, s.patternLen())
	r.pattern = make([]float64, s.patternLen())
	r.dpattern = make([]float64, s.patternLen())
	r.dscores = make([]float64, s.patternLen())
	r.z = make([]float64, s.qkvLen())
	r.dq = make([]float64, s.qkvLen())
	r.dk = make([]float64, s.qkvLen())
	r.dv = make([]float64, s.qkvLen())
	for b := range s.batch {
		for h := range H {
			for i := range T {
				mx := math.Inf(-1)
				for j := range T {
					sc := math.Inf(-1)
					if j <= i {
						sc = 0
						for d := range dh {
							sc += r.q64[r.qAt(b, i, h, d)] * r.k64[r.qAt(b, j, h, d)]
						}
						sc *= r.scale
						mx = math.Max(mx, sc)
					}
					r.scores[r.sAt(b, h, i, j)] = sc
				}
				var sum float64
				for j := 0; j <= i; j++ {
					sum += math.Exp(r.scores[r.sAt(b, h, i, j)] - mx)
				}
				for j := 0; j <= i; j++ {
					p := math.Exp(r.scores[r.sAt(b, h, i, j)]-mx) / sum
					r.pattern[r.sAt(b, h, i, j)] = p
					for d := range dh {
						r.z[r.qAt(b, i, h, d)] += p * r.v64[r.qAt(b, j, h, d)]
					}
				}
			}
			// Backward.
			for i := range T {
				var dot float64
				for j := 0; j <= i; j++ {
					var dp float64
					for d := range dh {
						dp += r.dz64[r.qAt(b, i, h, d)] * r.v64[r.qAt(b, j, h, d)]
						r.dv[r.qAt(b, j, h, d)] += r.pattern[r.sAt(b, h, i, j)] * r.dz64[r.qAt(b, i, h, d)]
					}
					r.dpattern[r.sAt(b, h, i, j)] = dp
					dot += dp * r.pattern[r.sAt(b, h, i, j)]
				}
				for j := i + 1; j < T; j++ { // z = pattern·v reads every entry
					for d := range dh {
						r.dpattern[r.sAt(b, h, i, j)] += r.dz64[r.qAt(b, i, h, d)] * r.v64[r.qAt(b, j, h, d)]
					}
				}
				for j := 0; j <= i; j++ {
					at := r.sAt(b, h, i, j)
					ds := r.pattern[at] * (r.dpattern[at] - dot)
					r.dscores[at] = ds
					for d := range dh {
						r.dq[r.qAt(b, i, h, d)] += r.scale * ds * r.k64[r.qAt(b, j, h, d)]
						r.dk[r.qAt(b, j, h, d)] += r.scale * ds * r.q64[r.qAt(b, i, h, d)]
					}
				}
			}
		}
	}
	return r
}

// attnCompare reports elements where got differs from want beyond tol
// relative to 1 + |want|; equal infinities match.
func attnCompare(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		g := float64(got[i])
		if g == w {
			continue
		}
		if math.IsNaN(g) || math.IsInf(w, 0) || math.Abs(g-w) > tol*(1+math.Abs(w)) {
			if bad++; bad <= 5 {
				t.Errorf("%s[%d] = %v, want %v", name, i, g, w)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d mismatches in all", name, bad)
	}
}

// attnCompareF32 is attnCompare against a float32 want, where NaN matches
// NaN.
func attnCompareF32(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	g, w := slicesClone(got), nn.To64(want)
	for i := range w {
		if math.IsNaN(w[i]) && math.IsNaN(float64(g[i])) {
			g[i], w[i] = 0, 0
		}
	}
	attnCompare(t, name, g, w, tol)
}

// attnMinus returns got − prior, the amount a Backward accumulated.
func attnMinus(got, prior []float32) []float32 {
	d := make([]float32, len(got))
	for i := range got {
		d[i] = got[i] - prior[i]
	}
	return d
}

// attnAdd returns prior + delta in float64: what accumulating delta should give.
func attnAdd(prior []float32, delta []float64) []float64 {
	w := make([]float64, len(prior))
	for i := range prior {
		w[i] = float64(prior[i]) + delta[i]
	}
	return w
}

func TestAttnMatchesReference(t *testing.T) {
	for si, s := range attnShapes {
		for _, inScale := range []float64{1, 4} {
			t.Run(fmt.Sprintf("%v/input_scale=%g", s, inScale), func(t *testing.T) {
				seed := uint64(100*si) + uint64(inScale)
				rng := rand.New(rand.NewPCG(seed, seed))
				q, k, v := attnRand(rng, s.qkvLen(), inScale), attnRand(rng, s.qkvLen(), inScale), attnRand(rng, s.qkvLen(), 1)
				dz := attnRand(rng, s.qkvLen(), 1)
				ref := newAttnRef(s, q, k, v, dz)
				B, T, H, dh := s.batch, s.pos, s.heads, s.dHead

				// Step-wise forward.
				scores := make([]float32, s.patternLen())
				pattern := make([]float32, s.patternLen())
				z := make([]float32, s.qkvLen())
				nn.AttnScoresForward(scores, q, k, B, T, H, dh)
				nn.AttnSoftmaxForward(pattern, scores, B, H, T)
				nn.AttnMixForward(z, pattern, v, B, T, H, dh)
				attnCompare(t, "scores", scores, ref.scores, attnRefTol)
				attnCompare(t, "pattern", pattern, ref.pattern, attnRefTol)
				attnCompare(t, "z", z, ref.z, attnRefTol)

				// Step-wise backward, accumulating onto random priors.
				dpPrior := attnRand(rng, s.patternLen(), 1)
				dsPrior := attnRand(rng, s.patternLen(), 1)
				dqPrior, dkPrior, dvPrior := attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
				dpattern, dscores := slicesClone(dpPrior), slicesClone(dsPrior)
				dq, dk, dv := slicesClone(dqPrior), slicesClone(dkPrior), slicesClone(dvPrior)
				nn.AttnMixBackward(dpattern, dv, dz, pattern, v, B, T, H, dh)
				attnCompare(t, "dv", attnMinus(dv, dvPrior), ref.dv, attnRefTol)
				attnCompare(t, "dpattern", attnMinus(dpattern, dpPrior), ref.dpattern, attnRefTol)
				// The softmax backward sees dpattern's own gradient, with NaN
				// above the diagonal that must never be read; likewise the
				// scores backward.
				dpOnly := attnMinus(dpattern, dpPrior)
				attnFillMasked(dpOnly, B*H, T, float32(math.NaN()))
				nn.AttnSoftmaxBackward(dscores, dpOnly, pattern, B, H, T)
				gotDS := attnMinus(dscores, dsPrior)
				attnCompare(t, "dscores", gotDS, ref.dscores, attnRefTol) // masked: unchanged, so 0
				dsOnly := slicesClone(gotDS)
				attnFillMasked(dsOnly, B*H, T, float32(math.NaN()))
				nn.AttnScoresBackward(dq, dk, dsOnly, q, k, B, T, H, dh)
				attnCompare(t, "dq", attnMinus(dq, dqPrior), ref.dq, attnRefTol)
				attnCompare(t, "dk", attnMinus(dk, dkPrior), ref.dk, attnRefTol)

				// Fused forward and backward against the same reference.
				zf, pf, sf := make([]float32, s.qkvLen()), make([]float32, s.patternLen()), make([]float32, s.patternLen())
				nn.AttentionForward(zf, sf, pf, q, k, v, B, T, H, dh)
				attnCompare(t, "fused scores", sf, ref.scores, attnRefTol)
				attnCompare(t, "fused pattern", pf, ref.pattern, attnRefTol)
				attnCompare(t, "fused z", zf, ref.z, attnRefTol)
				dq, dk, dv = slicesClone(dqPrior), slicesClone(dkPrior), slicesClone(dvPrior)
				nn.AttentionBackward(dq, dk, dv, dz, pf, q, k, v, make([]float32, T*T), B, T, H, dh)
				attnCompare(t, "fused dq", dq, attnAdd(dqPrior, ref.dq), attnRefTol)
				attnCompare(t, "fused dk", dk, attnAdd(dkPrior, ref.dk), attnRefTol)
				attnCompare(t, "fused dv", dv, attnAdd(dvPrior, ref.dv), attnRefTol)
				if t.Failed() {
					t.Logf("seed %d", seed)
				}
			})
		}
	}
}

func slicesClone(x []float32) []float32 { return append([]float32(nil), x...) }

// attnFillMasked sets the entries above the diagonal of each of n T×T blocks.
func attnFillMasked(x []float32, n, T int, val float32) {
	for o := 0; o < n*T*T; o += T * T {
		for i := range T {
			for j := i + 1; j < T; j++ {
				x[o+i*T+j] = val
			}
		}
	}
}

func TestAttnPatternInvariants(t *testing.T) {
	s := attnShape{3, 40, 4, 16}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, inScale := range []float64{0, 1, 30} { // uniform, typical, saturated
		q, k, v := attnRand(rng, s.qkvLen(), inScale), attnRand(rng, s.qkvLen(), inScale), attnRand(rng, s.qkvLen(), 1)
		scores, pattern := make([]float32, s.patternLen()), make([]float32, s.patternLen())
		z := make([]float32, s.qkvLen())
		nn.AttentionForward(z, scores, pattern, q, k, v, s.batch, s.pos, s.heads, s.dHead)
		T := s.pos
		for blk := range s.batch * s.heads {
			for i := range T {
				row := pattern[(blk*T+i)*T : (blk*T+i+1)*T]
				srow := scores[(blk*T+i)*T : (blk*T+i+1)*T]
				var sum float64
				for j, p := range row {
					if j > i {
						if p != 0 {
							t.Fatalf("scale %g block %d: pattern[%d,%d] = %v above the diagonal, want 0", inScale, blk, i, j, p)
						}
						if !math.IsInf(float64(srow[j]), -1) {
							t.Fatalf("scale %g block %d: scores[%d,%d] = %v above the diagonal, want -Inf", inScale, blk, i, j, srow[j])
						}
						continue
					}
					if p < 0 || p > 1 || math.IsNaN(float64(p)) {
						t.Fatalf("scale %g block %d: pattern[%d,%d] = %v, want in [0, 1]", inScale, blk, i, j, p)
					}
					sum += float64(p)
				}
				if math.Abs(sum-1) > attnSumTol {
					t.Errorf("scale %g block %d: row %d sums to %v, want 1 ± %g", inScale, blk, i, sum, attnSumTol)
				}
				if i == 0 && row[0] != 1 {
					t.Errorf("scale %g block %d: first row attends %v to position 0, want exactly 1", inScale, blk, row[0])
				}
			}
		}
		if inScale == 0 { // all scores equal: row i is uniform over i+1 positions
			for i := range T {
				if p, want := pattern[i*T], float32(1)/float32(i+1); math.Abs(float64(p-want)) > attnSumTol {
					t.Errorf("uniform: pattern[0,0,%d,0] = %v, want %v", i, p, want)
				}
			}
		}
	}
}

// TestAttnSoftmaxHookedScores checks scores as a hook may leave them: −Inf
// below the diagonal and garbage above it behave as TransformerLens's
// masked_fill + softmax; a fully −Inf row (NaN in PyTorch; it cannot arise
// from the causal mask alone) gives zeros, as tensor.Softmax does.
func TestAttnSoftmaxHookedScores(t *testing.T) {
	inf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	scores := []float32{
		inf, nan, 7, 7, // fully masked row: all zeros
		1, inf, nan, 7, // −Inf below the diagonal gets exactly 0
		0, 0, 0, 7, // plain uniform row
		0, nan, 0, 0, // NaN poisons its row, as in PyTorch
	}
	want := []float32{0, 0, 0, 0, 1, 0, 0, 0, 1. / 3, 1. / 3, 1. / 3, 0, nan, nan, nan, nan}
	got := make([]float32, 16)
	nn.AttnSoftmaxForward(got, scores, 1, 1, 4)
	for i := range want {
		if !(math.Abs(float64(got[i]-want[i])) <= attnSumTol || math.IsNaN(float64(want[i])) && math.IsNaN(float64(got[i]))) {
			t.Errorf("pattern %v, want %v", got, want)
			break
		}
	}
	if got[4] != 1 || got[5] != 0 {
		t.Errorf("row 1 = %v, want exactly [1 0 ...]", got[4:8])
	}
	nn.AttnSoftmaxForward(scores, scores, 1, 1, 4) // in place
	for i := range want {
		if math.Float32bits(scores[i]) != math.Float32bits(got[i]) {
			t.Errorf("in place: pattern %v, want %v", scores, got)
			break
		}
	}
}

// TestAttnSoftmaxAccuracy sweeps the softmax's inline exponential over its
// whole range through rows [x, 0], whose first probability is e^x/(e^x + 1),
// and checks the underflow cut-off gives exactly 0.
func TestAttnSoftmaxAccuracy(t *testing.T) {
	scores, pattern := make([]float32, 4), make([]float32, 4)
	worst, worstX := 0.0, float32(0)
	for x := float32(-87); x <= 0; x += 1.0 / 1024 {
		scores[2] = x
		nn.AttnSoftmaxForward(pattern, scores, 1, 1, 2)
		e := math.Exp(float64(x))
		if err := math.Abs(float64(pattern[2])-e/(e+1)) / (e / (e + 1)); err > worst {
			worst, worstX = err, x
		}
	}
	if worst > attnExpTol {
		t.Errorf("softmax of [x, 0]: relative error %.3g at x = %v, want ≤ %g", worst, worstX, attnExpTol)
	}
	for _, x := range []float32{-88, -1000, float32(math.Inf(-1))} {
		scores[2] = x
		nn.AttnSoftmaxForward(pattern, scores, 1, 1, 2)
		if pattern[2] != 0 || pattern[3] != 1 {
			t.Errorf("softmax of [%v, 0] = %v, want exactly [0 1]", x, pattern[2:])
		}
	}
}

// attnGradCase is one finite-difference check: loss(x) = Σ g ⊙ output over
// unmasked outputs, and the analytic gradient of that loss wrt x.
type attnGradCase struct {
	name     string
	x        []float32
	loss     func(x []float32) float64
	analytic func(x []float32) []float32
}

func TestAttnGradCheck(t *testing.T) {
	s := attnShape{2, 5, 2, 3}
	B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
	const seed = 42
	rng := rand.New(rand.NewPCG(seed, seed))
	q, k, v := attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
	gZ := attnRand(rng, s.qkvLen(), 1)        // upstream gradient of z
	gP := attnRand(rng, s.patternLen(), 1)    // upstream gradient of pattern or scores
	pat := attnRand(rng, s.patternLen(), 0.5) // an arbitrary pattern for the mix
	sc := attnRand(rng, s.patternLen(), 1)    // arbitrary scores for the softmax
	gMasked := slicesClone(gP)                // with NaN above the diagonal
	attnFillMasked(gMasked, B*H, T, float32(math.NaN()))
	dot := func(g, y []float32) float64 { // Σ g·y over finite y (masked scores are −Inf)
		var l float64
		for i := range y {
			if !math.IsInf(float64(y[i]), 0) {
				l += float64(g[i]) * float64(y[i])
			}
		}
		return l
	}
	zBuf, pBuf, sBuf := make([]float32, s.qkvLen()), make([]float32, s.patternLen()), make([]float32, s.patternLen())
	scratch := make([]float32, T*T)

	cases := []attnGradCase{
		{"ScoresBackward/dq", q, func(x []float32) float64 {
			nn.AttnScoresForward(sBuf, x, k, B, T, H, dh)
			return dot(gP, sBuf)
		}, func(x []float32) []float32 {
			d := make([]float32, len(x))
			nn.AttnScoresBackward(d, nil, gMasked, x, k, B, T, H, dh)
			return d
		}},
		{"ScoresBackward/dk", k, func(x []float32) float64 {
			nn.AttnScoresForward(sBuf, q, x, B, T, H, dh)
			return dot(gP, sBuf)
		}, func(x []float32) []float32 {
			d := make([]float32, len(x))
			nn.AttnScoresBackward(nil, d, gMasked, q, x, B, T, H, dh)
			return d
		}},
		{"SoftmaxBackward/dscores", sc, func(x []float32) float64 {
			nn.AttnSoftmaxForward(pBuf, x, B, H, T)
			return dot(gP, pBuf)
		}, func(x []float32) []float32 {
			d := make([]float32, len(x))
			p := make([]float32, len(x))
			nn.AttnSoftmaxForward(p, x, B, H, T)
			nn.AttnSoftmaxBackward(d, gMasked, p, B, H, T)
			return d
		}},
		{"MixBackward/dpattern", pat, func(x []float32) float64 {
			nn.AttnMixForward(zBuf, x, v, B, T, H, dh)
			return dot(gZ, zBuf)
		}, func(x []float32) []float32 {
			d := make([]float32, len(x))
			nn.AttnMixBackward(d, nil, gZ, x, v, B, T, H, dh)
			return d
		}},
		{"MixBackward/dv", v, func(x []float32) float64 {
			nn.AttnMixForward(zBuf, pat, x, B, T, H, dh)
			return dot(gZ, zBuf)
		}, func(x []float32) []float32 {
			d := make([]float32, len(x))
			nn.AttnMixBackward(nil, d, gZ, pat, x, B, T, H, dh)
			return d
		}},
	}
	// The fused pair, wrt each of q, k, v.
	fused := func(name string, which int) attnGradCase {
		pick := func(x []float32) (qq, kk, vv []float32) {
			qq, kk, vv = q, k, v
			switch which {
			case 0:
				qq = x
			case 1:
				kk = x
			default:
				vv = x
			}
			return
		}
		return attnGradCase{name, [][]float32{q, k, v}[which], func(x []float32) float64 {
			qq, kk, vv := pick(x)
			nn.AttentionForward(zBuf, nil, pBuf, qq, kk, vv, B, T, H, dh)
			return dot(gZ, zBuf)
		}, func(x []float32) []float32 {
			qq, kk, vv := pick(x)
			p := make([]float32, s.patternLen())
			nn.AttentionForward(make([]float32, s.qkvLen()), nil, p, qq, kk, vv, B, T, H, dh)
			grads := [3][]float32{}
			grads[which] = make([]float32, len(x))
			nn.AttentionBackward(grads[0], grads[1], grads[2], gZ, p, qq, kk, vv, scratch, B, T, H, dh)
			return grads[which]
		}}
	}
	cases = append(cases, fused("AttentionBackward/dq", 0), fused("AttentionBackward/dk", 1), fused("AttentionBackward/dv", 2))

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf := make([]float32, len(c.x))
			loss := func(x64 []float64) float64 {
				nn.To32(buf, x64)
				return c.loss(buf)
			}
			analytic := nn.To64(c.analytic(c.x))
			maxErr, at := nn.GradCheck(loss, nn.To64(c.x), analytic, nn.GradCheckStep)
			if maxErr > attnGradTol {
				t.Errorf("%v, seed %d: max error %.3g at %d (analytic %v), want ≤ %g", s, seed, maxErr, at, analytic[at], attnGradTol)
			}
		})
	}
}

func TestAttentionFusedMatchesStepwise(t *testing.T) {
	for si, s := range attnShapes {
		t.Run(s.String(), func(t *testing.T) {
			seed := uint64(1000 + si)
			rng := rand.New(rand.NewPCG(seed, seed))
			B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
			q, k, v := attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 1)
			dz := attnRand(rng, s.qkvLen(), 1)

			scores, pattern, z := make([]float32, s.patternLen()), make([]float32, s.patternLen()), make([]float32, s.qkvLen())
			nn.AttnScoresForward(scores, q, k, B, T, H, dh)
			nn.AttnSoftmaxForward(pattern, scores, B, H, T)
			nn.AttnMixForward(z, pattern, v, B, T, H, dh)

			for _, withScores := range []bool{true, false} {
				sf, pf, zf := []float32(nil), make([]float32, s.patternLen()), make([]float32, s.qkvLen())
				if withScores {
					sf = make([]float32, s.patternLen())
				}
				nn.AttentionForward(zf, sf, pf, q, k, v, B, T, H, dh)
				if withScores {
					attnCompare(t, "scores", sf, nn.To64(scores), attnFusedTol)
				}
				attnCompare(t, "pattern", pf, nn.To64(pattern), attnFusedTol)
				attnCompare(t, "z", zf, nn.To64(z), attnFusedTol)
			}

			// Step-wise backward from zeroed intermediates onto shared priors.
			dqPrior, dkPrior, dvPrior := attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
			dq, dk, dv := slicesClone(dqPrior), slicesClone(dkPrior), slicesClone(dvPrior)
			dpattern, dscores := make([]float32, s.patternLen()), make([]float32, s.patternLen())
			nn.AttnMixBackward(dpattern, dv, dz, pattern, v, B, T, H, dh)
			nn.AttnSoftmaxBackward(dscores, dpattern, pattern, B, H, T)
			nn.AttnScoresBackward(dq, dk, dscores, q, k, B, T, H, dh)

			// Every subset of requested gradients.
			for mask := range 8 {
				fq, fk, fv := []float32(nil), []float32(nil), []float32(nil)
				if mask&1 != 0 {
					fq = slicesClone(dqPrior)
				}
				if mask&2 != 0 {
					fk = slicesClone(dkPrior)
				}
				if mask&4 != 0 {
					fv = slicesClone(dvPrior)
				}
				scratch := attnRand(rng, T*T, 1e6) // garbage: must be overwritten
				nn.AttentionBackward(fq, fk, fv, dz, pattern, q, k, v, scratch, B, T, H, dh)
				if fq != nil {
					attnCompare(t, fmt.Sprintf("mask %03b dq", mask), fq, nn.To64(dq), attnFusedTol)
				}
				if fk != nil {
					attnCompare(t, fmt.Sprintf("mask %03b dk", mask), fk, nn.To64(dk), attnFusedTol)
				}
				if fv != nil {
					attnCompare(t, fmt.Sprintf("mask %03b dv", mask), fv, nn.To64(dv), attnFusedTol)
				}
			}
			if t.Failed() {
				t.Logf("seed %d", seed)
			}
		})
	}
}

// attnBuffers is one forward+backward working set.
type attnBuffers struct {
	z, scores, pattern, dq, dk, dv, dpattern, dscores, scratch []float32
}

func newAttnBuffers(s attnShape) *attnBuffers {
	return &attnBuffers{
		z: make([]float32, s.qkvLen()), scores: make([]float32, s.patternLen()), pattern: make([]float32, s.patternLen()),
		dq: make([]float32, s.qkvLen()), dk: make([]float32, s.qkvLen()), dv: make([]float32, s.qkvLen()),
		dpattern: make([]float32, s.patternLen()), dscores: make([]float32, s.patternLen()),
		scratch: make([]float32, s.pos*s.pos),
	}
}

func TestAttnAllocs(t *testing.T) {
	s := attnShape{2, 40, 4, 16}
	B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
	rng := rand.New(rand.NewPCG(3, 3))
	q, k, v, dz := attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
	w := newAttnBuffers(s)
	steps := []struct {
		name string
		f    func()
	}{
		{"AttnScoresForward", func() { nn.AttnScoresForward(w.scores, q, k, B, T, H, dh) }},
		{"AttnSoftmaxForward", func() { nn.AttnSoftmaxForward(w.pattern, w.scores, B, H, T) }},
		{"AttnMixForward", func() { nn.AttnMixForward(w.z, w.pattern, v, B, T, H, dh) }},
		{"AttnMixBackward", func() { nn.AttnMixBackward(w.dpattern, w.dv, dz, w.pattern, v, B, T, H, dh) }},
		{"AttnSoftmaxBackward", func() { nn.AttnSoftmaxBackward(w.dscores, w.dpattern, w.pattern, B, H, T) }},
		{"AttnScoresBackward", func() { nn.AttnScoresBackward(w.dq, w.dk, w.dscores, q, k, B, T, H, dh) }},
		{"AttentionForward", func() { nn.AttentionForward(w.z, w.scores, w.pattern, q, k, v, B, T, H, dh) }},
		{"AttentionForward/nil scores", func() { nn.AttentionForward(w.z, nil, w.pattern, q, k, v, B, T, H, dh) }},
		{"AttentionBackward", func() { nn.AttentionBackward(w.dq, w.dk, w.dv, dz, w.pattern, q, k, v, w.scratch, B, T, H, dh) }},
	}
	for _, st := range steps {
		if n := testing.AllocsPerRun(10, st.f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", st.name, n)
		}
	}
}

// TestAttnConcurrent runs forward+backward in two goroutines on distinct
// output buffers over shared read-only inputs (run it under -race) and checks
// both against a serial run.
func TestAttnConcurrent(t *testing.T) {
	s := attnShape{2, 7, 2, 8}
	B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
	rng := rand.New(rand.NewPCG(5, 5))
	q, k, v, dz := attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
	run := func(w *attnBuffers, fused bool) {
		for range 20 {
			clear(w.dq)
			clear(w.dk)
			clear(w.dv)
			if fused {
				nn.AttentionForward(w.z, w.scores, w.pattern, q, k, v, B, T, H, dh)
				nn.AttentionBackward(w.dq, w.dk, w.dv, dz, w.pattern, q, k, v, w.scratch, B, T, H, dh)
				continue
			}
			clear(w.dpattern)
			clear(w.dscores)
			nn.AttnScoresForward(w.scores, q, k, B, T, H, dh)
			nn.AttnSoftmaxForward(w.pattern, w.scores, B, H, T)
			nn.AttnMixForward(w.z, w.pattern, v, B, T, H, dh)
			nn.AttnMixBackward(w.dpattern, w.dv, dz, w.pattern, v, B, T, H, dh)
			nn.AttnSoftmaxBackward(w.dscores, w.dpattern, w.pattern, B, H, T)
			nn.AttnScoresBackward(w.dq, w.dk, w.dscores, q, k, B, T, H, dh)
		}
	}
	want := newAttnBuffers(s)
	run(want, true)
	ws := []*attnBuffers{newAttnBuffers(s), newAttnBuffers(s)}
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { run(w, i == 0) })
	}
	wg.Wait()
	for i, w := range ws {
		for _, c := range []struct {
			name      string
			got, want []float32
		}{{"z", w.z, want.z}, {"pattern", w.pattern, want.pattern}, {"dq", w.dq, want.dq}, {"dk", w.dk, want.dk}, {"dv", w.dv, want.dv}} {
			attnCompare(t, fmt.Sprintf("goroutine %d %s", i, c.name), c.got, nn.To64(c.want), attnFusedTol)
		}
	}
}

func TestAttnShapePanics(t *testing.T) {
	s := attnShape{2, 3, 2, 4}
	B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
	x, short := make([]float32, s.qkvLen()), make([]float32, s.qkvLen()-1)
	p, pShort := make([]float32, s.patternLen()), make([]float32, s.patternLen()-1)
	scratch := make([]float32, T*T)
	cases := []struct {
		name string
		f    func()
	}{
		{"scores: short q", func() { nn.AttnScoresForward(p, short, x, B, T, H, dh) }},
		{"scores: short scores", func() { nn.AttnScoresForward(pShort, x, x, B, T, H, dh) }},
		{"softmax: short pattern", func() { nn.AttnSoftmaxForward(pShort, p, B, H, T) }},
		{"softmax: negative pos", func() { nn.AttnSoftmaxForward(p, p, B, H, -1) }},
		{"mix: short v", func() { nn.AttnMixForward(x, p, short, B, T, H, dh) }},
		{"mix backward: short dv", func() { nn.AttnMixBackward(p, short, x, p, x, B, T, H, dh) }},
		{"softmax backward: short dscores", func() { nn.AttnSoftmaxBackward(pShort, p, p, B, H, T) }},
		{"scores backward: short dk", func() { nn.AttnScoresBackward(x, short, p, x, x, B, T, H, dh) }},
		{"fused: short z", func() { nn.AttentionForward(short, nil, p, x, x, x, B, T, H, dh) }},
		{"fused: short scores", func() { nn.AttentionForward(x, pShort, p, x, x, x, B, T, H, dh) }},
		{"fused: negative d_head", func() { nn.AttentionForward(x, nil, p, x, x, x, B, T, H, -1) }},
		{"fused backward: short scratch", func() { nn.AttentionBackward(x, nil, nil, x, p, x, x, x, scratch[:T*T-1], B, T, H, dh) }},
		{"fused backward: short pattern", func() { nn.AttentionBackward(nil, nil, x, x, pShort, x, x, x, scratch, B, T, H, dh) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				var se tensor.ShapeError
				if !ok || !errors.As(err, &se) {
					t.Errorf("panic value %#v, want a tensor.ShapeError", r)
				}
			}()
			c.f()
		})
	}
	// Without dq and dk, scratch is not needed.
	nn.AttentionBackward(nil, nil, x, x, p, x, x, x, nil, B, T, H, dh)
}

// A three-token, single-head pattern. Token 1's key matches every query
// strongly, so positions 1 and 2 attend mostly to it; each row sums to 1 and nothing
// attends to a later position.
func ExampleAttentionForward() {
	const batch, pos, heads, dHead = 1, 3, 1, 1
	q := []float32{1, 1, 1}    // [batch, pos, heads, d_head]
	k := []float32{0, 2, 0}    // token 1 has a large key
	v := []float32{10, 20, 30} // z is the pattern-weighted mean of v
	z := make([]float32, batch*pos*heads*dHead)
	pattern := make([]float32, batch*heads*pos*pos) // [batch, head, dest, src]
	nn.AttentionForward(z, nil, pattern, q, k, v, batch, pos, heads, dHead)
	for i := range pos {
		fmt.Printf("%.3f  z=%.2f\n", pattern[i*pos:(i+1)*pos], z[i])
	}
	// Output:
	// [1.000 0.000 0.000]  z=10.00
	// [0.119 0.881 0.000]  z=18.81
	// [0.107 0.787 0.107]  z=20.00
}
