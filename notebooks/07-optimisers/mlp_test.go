package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/optim"
)

// mlpGradTol bounds the finite-difference error of the MLP's gradient,
// evaluated in float32 with nn.GradCheckStep.
const mlpGradTol = 2e-3

func TestMLPGradient(t *testing.T) {
	const seed = 3
	rng := rand.New(rand.NewPCG(seed, seed))
	m := newMLP(2, 6, 4, 8, rng)
	for i := range m.params {
		if m.params[i] == 0 { // biases: away from 0 so that the check sees them
			m.params[i] = 0.1 * float32(rng.NormFloat64())
		}
	}
	d := sampleMixture(data.Ring(4, 1, 0.3), 8, rng)
	m.loss(d.X, d.Labels, true)
	analytic := nn.To64(m.grads)
	loss := func(x []float64) float64 {
		nn.To32(m.params, x)
		return m.loss(d.X, d.Labels, false)
	}
	if maxErr, at := nn.GradCheck(loss, nn.To64(m.params), analytic, nn.GradCheckStep); maxErr > mlpGradTol {
		t.Errorf("seed %d: gradient error %.2e at parameter %d, want ≤ %.0e", seed, maxErr, at, mlpGradTol)
	}
}

// The objectives' gradients against central differences in float64.
func TestObjectiveGradients(t *testing.T) {
	const h, tol = 1e-6, 1e-5
	for _, tc := range []struct {
		name string
		f    objective
	}{{"rosenbrock", rosenbrock}, {"quadratic κ=100 rotated", quadratic(100, 0.5)}} {
		for _, p := range [][2]float64{{-1.2, 1}, {0.3, -0.7}, {1, 1}} {
			_, gx, gy := tc.f(p[0], p[1])
			fx1, _, _ := tc.f(p[0]+h, p[1])
			fx0, _, _ := tc.f(p[0]-h, p[1])
			fy1, _, _ := tc.f(p[0], p[1]+h)
			fy0, _, _ := tc.f(p[0], p[1]-h)
			nx, ny := (fx1-fx0)/(2*h), (fy1-fy0)/(2*h)
			if math.Abs(gx-nx) > tol*math.Max(1, math.Abs(nx)) || math.Abs(gy-ny) > tol*math.Max(1, math.Abs(ny)) {
				t.Errorf("%s at %v: gradient (%g, %g), numeric (%g, %g)", tc.name, p, gx, gy, nx, ny)
			}
		}
	}
}

// Gradient descent on the quadratic contracts at exactly (κ−1)/(κ+1).
func TestGradientDescentRate(t *testing.T) {
	const kappa = 100.0
	p, err := descend(quadratic(kappa, 0), sgd("GD", optim.SGDConfig{}), 2/(kappa+1), 1, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := contraction(p.F, 1e-12, 1e-2), (kappa-1)/(kappa+1); math.Abs(got-want) > 1e-4 {
		t.Errorf("contraction = %.6f, want %.6f", got, want)
	}
}
