package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// lossTol bounds the relative error of a loss against its float64 reference:
// the layers' exponentials are float32 (tensor.ExpShift, relative error
// < 3e-7) summed in float64, so a log-sum-exp is off by ≲ 3e-7 absolute and
// a loss of order 1 by about 1e-6 relative.
const lossTol = 2e-6

// probSumTol bounds |Σ_j probs[i, j] − 1| for float32 probabilities: one
// float32 rounding (6e-8) per entry over the small vocabularies tested.
const probSumTol = 1e-6

// lossCase is a shape and a weighting of the loss tests.
type lossCase struct {
	rows, v int
	weights string // "nil", "mixed" (some zero, padding targets -1) or "zero"
}

var lossCases = []lossCase{
	{1, 1, "nil"},
	{1, 2, "nil"},
	{3, 5, "nil"},
	{4, 7, "mixed"},
	{6, 3, "mixed"},
	{2, 11, "zero"},
	{5, 16, "mixed"},
}

// lossInputs returns random logits [rows, v] of scale 2, targets [rows] and
// weights [rows] for c; rows of weight 0 get the padding target -1.
func lossInputs(rng *rand.Rand, c lossCase) (logits []float32, targets []int32, weights []float32) {
	logits = randNormal(rng, c.rows*c.v)
	for i := range logits {
		logits[i] *= 2
	}
	targets = make([]int32, c.rows)
	if c.weights != "nil" {
		weights = make([]float32, c.rows)
	}
	for i := range targets {
		targets[i] = int32(rng.IntN(c.v))
		if c.weights == "mixed" {
			weights[i] = float32(rng.IntN(3)) // 0, 1 or 2
			if i == 0 {
				weights[i] = 0.5 // at least one non-zero
			}
		}
		if weights != nil && weights[i] == 0 {
			targets[i] = -1
		}
	}
	return logits, targets, weights
}

// ceRef is the float64 reference of CrossEntropyForward.
func ceRef(logits []float32, targets []int32, weights []float32, rows, v int) float64 {
	return weightedMeanRef(weights, rows, func(i int) float64 {
		li := logits[i*v : (i+1)*v]
		var s float64
		for _, l := range li {
			s += math.Exp(float64(l))
		}
		return math.Log(s) - float64(li[targets[i]])
	})
}

// weightedMeanRef returns Σ w_i·f(i) / Σ w_i over rows of non-zero weight
// (nil weights = all 1), or 0 if every weight is 0.
func weightedMeanRef(weights []float32, rows int, f func(i int) float64) float64 {
	var num, den float64
	for i := range rows {
		w := 1.0
		if weights != nil {
			w = float64(weights[i])
		}
		if w == 0 {
			continue
		}
		num += w * f(i)
		den += w
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func TestCrossEntropy(t *testing.T) {
	for k, c := range lossCases {
		t.Run(fmt.Sprintf("rows=%d/v=%d/weights=%s", c.rows, c.v, c.weights), func(t *testing.T) {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			logits, targets, weights := lossInputs(rng, c)
			probs := make([]float32, len(logits))
			loss := CrossEntropyForward(probs, logits, targets, weights, c.rows, c.v)
			if want := ceRef(logits, targets, weights, c.rows, c.v); relErr(loss, want) > lossTol {
				t.Errorf("seed %d: loss %.15g, want %.15g", seed, loss, want)
			}
			checkProbRows(t, probs, c.rows, c.v)

			// probs may alias logits.
			inPlace := slices.Clone(logits)
			if got := CrossEntropyForward(inPlace, inPlace, targets, weights, c.rows, c.v); got != loss || !slices.Equal(inPlace, probs) {
				t.Errorf("seed %d: in-place loss %v, want %v (or probs differ)", seed, got, loss)
			}

			// Doubling every weight leaves the weighted mean unchanged.
			if weights != nil {
				w2 := slices.Clone(weights)
				for i := range w2 {
					w2[i] *= 2
				}
				if got := CrossEntropyForward(probs, logits, targets, w2, c.rows, c.v); relErr(got, loss) > lossTol {
					t.Errorf("seed %d: loss with doubled weights %v, want %v", seed, got, loss)
				}
			}

			const scale = 0.7
			dlogits := randNormal(rng, len(logits))
			d0 := slices.Clone(dlogits)
			CrossEntropyBackward(dlogits, probs, targets, weights, c.rows, c.v, scale)
			checkGrad(t, seed, "logits", logits, added(dlogits, d0), func() float64 {
				return scale * CrossEntropyForward(probs, logits, targets, weights, c.rows, c.v)
			}, smoothGradTol)
			if c.weights == "zero" && (loss != 0 || !slices.Equal(dlogits, d0)) {
				t.Errorf("seed %d: all weights zero: loss %v and gradient changed = %v, want 0 and false", seed, loss, !slices.Equal(dlogits, d0))
			}
		})
	}
}

// checkProbRows checks that every row of probs [rows, v] is a distribution.
func checkProbRows(t *testing.T, probs []float32, rows, v int) {
	t.Helper()
	for i := range rows {
		var s float64
		for _, p := range probs[i*v : (i+1)*v] {
			if p < 0 || p > 1 {
				t.Errorf("probs row %d holds %v, outside [0, 1]", i, p)
			}
			s += float64(p)
		}
		if math.Abs(s-1) > probSumTol {
			t.Errorf("probs row %d sums to %.9g, want 1", i, s)
		}
	}
}

// TestCrossEntropyInvariants: uniform logits give log V whatever their value,
// a large shift of the logits changes nothing (the log-sum-exp is stable),
// and the per-row losses average to the loss.
func TestCrossEntropyInvariants(t *testing.T) {
	for _, v := range []int{1, 2, 10, 50257} {
		for _, c := range []float32{0, -3.5, 1000} { // e^1000 overflows float64 without the max subtracted
			const rows = 2
			logits := make([]float32, rows*v)
			for i := range logits {
				logits[i] = c
			}
			targets := []int32{0, int32(v - 1)}
			probs := make([]float32, len(logits))
			if got, want := CrossEntropyForward(probs, logits, targets, nil, rows, v), math.Log(float64(v)); relErr(got, want) > lossTol {
				t.Errorf("CE of uniform logits %v, V=%d: %v, want log V = %v", c, v, got, want)
			}
		}
	}

	const seed = 3
	rng := rand.New(rand.NewPCG(seed, seed))
	c := lossCase{rows: 5, v: 9, weights: "nil"}
	logits, targets, _ := lossInputs(rng, c)
	for i, l := range logits {
		logits[i] = float32(math.Round(float64(l)*64) / 64) // so that l + 1024 is exact in float32
	}
	probs := make([]float32, len(logits))
	loss := CrossEntropyForward(probs, logits, targets, nil, c.rows, c.v)
	shifted := slices.Clone(logits)
	for i := range shifted {
		shifted[i] += 1024
	}
	if got := CrossEntropyForward(probs, shifted, targets, nil, c.rows, c.v); relErr(got, loss) > lossTol || math.IsNaN(got) {
		t.Errorf("seed %d: loss of logits + 1024 = %v, want %v", seed, got, loss)
	}
	losses := make([]float32, c.rows)
	CrossEntropyPerRow(losses, logits, targets, c.rows, c.v)
	var mean float64
	for i, l := range losses {
		if want := ceRef(logits[i*c.v:(i+1)*c.v], targets[i:i+1], nil, 1, c.v); relErr(float64(l), want) > forwardTol {
			t.Errorf("seed %d: losses[%d] = %v, want %v", seed, i, l, want)
		}
		mean += float64(l) / float64(c.rows)
	}
	if relErr(mean, loss) > forwardTol {
		t.Errorf("seed %d: mean of per-row losses %v, want the loss %v", seed, mean, loss)
	}
}

// klRef is the float64 reference of KLForward.
func klRef(p, q, weights []float32, rows, v int) float64 {
	logSoftmax := func(x []float32) []float64 {
		mx := math.Inf(-1)
		for _, l := range x {
			mx = math.Max(mx, float64(l))
		}
		var s float64
		for _, l := range x {
			s += math.Exp(float64(l) - mx)
		}
		out := make([]float64, len(x))
		for j, l := range x {
			out[j] = float64(l) - mx - math.Log(s)
		}
		return out
	}
	return weightedMeanRef(weights, rows, func(i int) float64 {
		lp, lq := logSoftmax(p[i*v:(i+1)*v]), logSoftmax(q[i*v:(i+1)*v])
		var kl float64
		for j := range lp {
			kl += math.Exp(lp[j]) * (lp[j] - lq[j])
		}
		return kl
	})
}

func TestKL(t *testing.T) {
	for k, c := range lossCases {
		t.Run(fmt.Sprintf("rows=%d/v=%d/weights=%s", c.rows, c.v, c.weights), func(t *testing.T) {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			p, _, weights := lossInputs(rng, c)
			q, _, _ := lossInputs(rng, c)
			pp, pq := make([]float32, len(p)), make([]float32, len(q))
			kl := KLForward(pp, pq, p, q, weights, c.rows, c.v)
			if want := klRef(p, q, weights, c.rows, c.v); relErr(kl, want) > lossTol {
				t.Errorf("seed %d: KL %.15g, want %.15g", seed, kl, want)
			}
			if kl < 0 {
				t.Errorf("seed %d: KL = %v < 0", seed, kl)
			}
			checkProbRows(t, pp, c.rows, c.v)
			checkProbRows(t, pq, c.rows, c.v)
			if self := KLForward(pp, pq, p, p, weights, c.rows, c.v); self != 0 {
				t.Errorf("seed %d: KL(P‖P) = %v, want exactly 0", seed, self)
			}

			const scale = 1.3
			loss := func() float64 { return scale * KLForward(pp, pq, p, q, weights, c.rows, c.v) }
			loss()
			dp, dq := randNormal(rng, len(p)), randNormal(rng, len(q))
			dp0, dq0 := slices.Clone(dp), slices.Clone(dq)
			KLBackward(dp, dq, pp, pq, p, q, weights, c.rows, c.v, scale)
			checkGrad(t, seed, "p", p, added(dp, dp0), loss, smoothGradTol)
			checkGrad(t, seed, "q", q, added(dq, dq0), loss, smoothGradTol)

			// Either gradient may be skipped without changing the other.
			loss()
			dq2 := slices.Clone(dq0)
			KLBackward(nil, dq2, pp, pq, p, q, weights, c.rows, c.v, scale)
			dp2 := slices.Clone(dp0)
			KLBackward(dp2, nil, pp, pq, p, q, weights, c.rows, c.v, scale)
			if !slices.Equal(dq2, dq) || !slices.Equal(dp2, dp) {
				t.Errorf("seed %d: a gradient with the other nil differs", seed)
			}
		})
	}
}

// TestKLZeroProbabilities: a −Inf logit in p is a zero of P and contributes
// nothing (no NaN); a −Inf logit in q where P > 0 makes KL infinite.
func TestKLZeroProbabilities(t *testing.T) {
	inf := float32(math.Inf(-1))
	p := []float32{0, inf, 1}
	q := []float32{0.5, 0.2, -1}
	pp, pq := make([]float32, 3), make([]float32, 3)
	got := KLForward(pp, pq, p, q, nil, 1, 3)
	want := klRef([]float32{0, -1e30, 1}, q, nil, 1, 3)
	if relErr(got, want) > lossTol {
		t.Errorf("KL with a −Inf logit in p = %v, want %v", got, want)
	}
	dp, dq := make([]float32, 3), make([]float32, 3)
	KLBackward(dp, dq, pp, pq, p, q, nil, 1, 3, 1)
	for j := range dp {
		if math.IsNaN(float64(dp[j])) || math.IsNaN(float64(dq[j])) {
			t.Errorf("KL gradients with a −Inf logit in p: dp %v, dq %v, want no NaN", dp, dq)
		}
	}
	if got := KLForward(pp, pq, q, p, nil, 1, 3); !math.IsInf(got, 1) {
		t.Errorf("KL with a −Inf logit in q = %v, want +Inf", got)
	}
}

func TestLossShapePanics(t *testing.T) {
	l, p := make([]float32, 6), make([]float32, 6) // [2, 3]
	wantShapePanic(t, "target = v", func() { CrossEntropyForward(p, l, []int32{0, 3}, nil, 2, 3) })
	wantShapePanic(t, "negative target of weight 1", func() { CrossEntropyForward(p, l, []int32{-1, 0}, []float32{1, 1}, 2, 3) })
	wantShapePanic(t, "short targets", func() { CrossEntropyForward(p, l, []int32{0}, nil, 2, 3) })
	wantShapePanic(t, "short weights", func() { CrossEntropyBackward(p, l, []int32{0, 0}, []float32{1}, 2, 3, 1) })
	wantShapePanic(t, "short probs", func() { CrossEntropyForward(p[:5], l, []int32{0, 0}, nil, 2, 3) })
	wantShapePanic(t, "short losses", func() { CrossEntropyPerRow(p[:1], l, []int32{0, 0}, 2, 3) })
	wantShapePanic(t, "short q", func() { KLForward(p, p, l, l[:5], nil, 2, 3) })
	wantShapePanic(t, "short dq", func() { KLBackward(nil, l[:5], p, p, l, l, nil, 2, 3, 1) })
}
