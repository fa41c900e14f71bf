package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// activation is one forward/backward pair with its float64 reference.
type activation struct {
	name     string
	forward  func(y, x []float32)
	backward func(dx, dy, x []float32)
	ref      func(x float64) float64
}

var activations = []activation{
	{"GELU", GELUForward, GELUBackward, func(x float64) float64 {
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}},
	{"GELUTanh", GELUTanhForward, GELUTanhBackward, func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}},
	{"ReLU", ReLUForward, ReLUBackward, func(x float64) float64 { return math.Max(x, 0) }},
}

// reluKinkGap keeps test inputs this far from ReLU's kink at 0, where a
// central difference of step GradCheckStep straddling it would be wrong.
const reluKinkGap = 5 * GradCheckStep

func TestActivations(t *testing.T) {
	for _, act := range activations {
		for k, n := range []int{1, 2, 7, 33, 256} {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			x := randNormal(rng, n)
			for i, v := range x {
				x[i] = 2 * v // reach the tails, where tanh and erf differ most
				if math.Abs(float64(x[i])) < reluKinkGap {
					x[i] += 2 * reluKinkGap
				}
			}
			y := make([]float32, n)
			act.forward(y, x)
			for i, v := range x {
				if want := act.ref(float64(v)); relErr(float64(y[i]), want) > forwardTol {
					t.Errorf("%s(%v) = %v, want %v", act.name, v, y[i], want)
				}
			}
			inPlace := slices.Clone(x)
			act.forward(inPlace, inPlace)
			if !slices.Equal(inPlace, y) {
				t.Errorf("%s n=%d seed %d: in-place forward differs", act.name, n, seed)
			}

			g := randNormal(rng, n)
			dx := randNormal(rng, n)
			dx0 := slices.Clone(dx)
			act.backward(dx, g, x)
			checkGrad(t, seed, act.name+" x", x, added(dx, dx0), func() float64 {
				act.forward(y, x)
				return tensor.Dot(g, y)
			}, smoothGradTol)
			act.backward(nil, g, x) // skipped
		}
	}
}

// TestGELUValues checks known values: GELU(0) = 0, GELU(x) → x for large x
// and → 0 for very negative x, and the exact and tanh forms agree to their
// documented ~1e-3 approximation error.
func TestGELUValues(t *testing.T) {
	x := []float32{0, 10, -10, 1, -1, 0.5}
	exact, approx := make([]float32, len(x)), make([]float32, len(x))
	GELUForward(exact, x)
	GELUTanhForward(approx, x)
	const approxGap = 1e-3 // max |GELU − GELUTanh| is about 2e-4 (Hendrycks & Gimpel)
	for i, v := range x {
		if math.Abs(float64(exact[i]-approx[i])) > approxGap {
			t.Errorf("GELU(%v) = %v, GELUTanh = %v: differ by more than %g", v, exact[i], approx[i], approxGap)
		}
	}
	if exact[0] != 0 || exact[1] != 10 || math.Abs(float64(exact[2])) > 1e-20 { // GELU(−10) ≈ −7.6e−23
		t.Errorf("GELU(0, 10, -10) = %v, want 0, 10, ≈0", exact[:3])
	}
	if want := float32(0.8413447460685429); exact[3] != want { // Φ(1)
		t.Errorf("GELU(1) = %v, want %v", exact[3], want)
	}
}

// TestGELUTanhKernel compares the logistic-form kernel with the readable
// tanh-form reference in package tensor on a dense grid and at the extremes.
func TestGELUTanhKernel(t *testing.T) {
	var x []float32
	for v := -12.0; v <= 12; v += 1.0 / 64 {
		x = append(x, float32(v))
	}
	x = append(x, math.MaxFloat32, -math.MaxFloat32, 1e-30, -1e-30, 0)
	got, want := make([]float32, len(x)), make([]float32, len(x))
	GELUTanhForward(got, x)
	tensor.GELUTanh(want, x)
	for i, v := range x {
		if relErr(float64(got[i]), float64(want[i])) > forwardTol {
			t.Errorf("GELUTanhForward(%v) = %v, reference %v", v, got[i], want[i])
		}
		if g, w := geluTanhGrad(float64(v)), tensor.GELUTanhGrad(float64(v)); relErr(g, w) > forwardTol || math.IsNaN(g) {
			t.Errorf("GELUTanh'(%v) = %v, reference %v", v, g, w)
		}
	}
}

func TestActivationShapePanics(t *testing.T) {
	for _, act := range activations {
		wantShapePanic(t, act.name+" forward", func() { act.forward(make([]float32, 2), make([]float32, 3)) })
		wantShapePanic(t, act.name+" backward", func() {
			act.backward(make([]float32, 3), make([]float32, 2), make([]float32, 3))
		})
	}
}
