package main

import (
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/nn"
)

// gradTol bounds the finite-difference error of the toy model's gradient:
// the loss is evaluated in float32 (relative rounding ~1e-7 on a loss of
// order 1, divided by the 1e-2 step) and the ReLU's kinks are kept away
// from the sampled points by the seed.
const gradTol = 2e-3

func TestToyModelGradient(t *testing.T) {
	const n, m, batch, seed = 6, 3, 5, 7
	rng := rand.New(rand.NewPCG(seed, seed))
	imp := []float64{1, 0.9, 0.8, 0.7, 0.6, 0.5}
	tm := newToyModel(n, m, batch, imp, rng)
	for i := range tm.b {
		tm.b[i] = 0.1 * float32(rng.NormFloat64())
	}
	tm.sample(rng, 0.3)
	tm.forward()
	tm.backward()
	params := append(nn.To64(tm.W), nn.To64(tm.b)...)
	analytic := append(nn.To64(tm.dW), nn.To64(tm.db)...)
	loss := func(x []float64) float64 {
		nn.To32(tm.W, x[:m*n])
		nn.To32(tm.b, x[m*n:])
		return tm.forward()
	}
	if maxErr, at := nn.GradCheck(loss, params, analytic, nn.GradCheckStep); maxErr > gradTol {
		t.Errorf("seed %d: gradient error %.2e at parameter %d, want ≤ %.0e", seed, maxErr, at, gradTol)
	}
}

func TestFeatureDims(t *testing.T) {
	// Two antipodal features and one alone in a second dimension, one ignored.
	r := toyResult{W: [][]float64{{1, -1, 0, 0}, {0, 0, 1, 0}}}
	got := r.featureDims(representedNorm)
	want := []float64{0.5, 0.5, 1, 0}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-12 || d < -1e-12 {
			t.Errorf("featureDims(%v) = %v, want %v", r.W, got, want)
			break
		}
	}
	if got := r.dimsPerFeature(); got != 2.0/3 {
		t.Errorf("dimsPerFeature = %v, want 2/3", got)
	}
}
