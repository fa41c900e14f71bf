package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

func TestPointwise(t *testing.T) {
	const slope = 0.2
	tests := []struct {
		name     string
		forward  func(y, x []float32)
		backward func(dx, dy, x, y []float32)
		ref      func(x float64) float64
	}{
		{"LeakyReLU", func(y, x []float32) { LeakyReLUForward(y, x, slope) },
			func(dx, dy, x, _ []float32) { LeakyReLUBackward(dx, dy, x, slope) },
			func(x float64) float64 { return math.Max(x, slope*x) }},
		{"Tanh", TanhForward, func(dx, dy, _, y []float32) { TanhBackward(dx, dy, y) }, math.Tanh},
		{"Sigmoid", SigmoidForward, func(dx, dy, _, y []float32) { SigmoidBackward(dx, dy, y) },
			func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
	}
	for _, tt := range tests {
		for k, n := range []int{1, 8, 65} {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			x := randNormal(rng, n)
			for i := range x {
				x[i] *= 3
				if math.Abs(float64(x[i])) < reluKinkGap {
					x[i] += 2 * reluKinkGap
				}
			}
			y := make([]float32, n)
			tt.forward(y, x)
			for i, v := range x {
				if want := tt.ref(float64(v)); relErr(float64(y[i]), want) > forwardTol {
					t.Errorf("%s(%v) = %v, want %v", tt.name, v, y[i], want)
				}
			}
			inPlace := slices.Clone(x)
			tt.forward(inPlace, inPlace)
			if !slices.Equal(inPlace, y) {
				t.Errorf("%s: in-place forward differs", tt.name)
			}
			g := randNormal(rng, n)
			dx := randNormal(rng, n)
			dx0 := slices.Clone(dx)
			tt.backward(dx, g, x, y)
			checkGrad(t, seed, tt.name+" x", x, added(dx, dx0), func() float64 {
				tt.forward(y, x)
				return tensor.Dot(g, y)
			}, smoothGradTol)
			tt.forward(y, x)
			tt.backward(nil, g, x, y)
		}
	}
	// The sigmoid saturates without overflow.
	y := make([]float32, 2)
	SigmoidForward(y, []float32{-1000, 1000})
	if y[0] != 0 || y[1] != 1 {
		t.Errorf("σ(∓1000) = %v, want [0 1]", y)
	}
	wantShapePanic(t, "short y", func() { TanhForward(y[:1], []float32{1, 2}) })
}

func TestFlatten(t *testing.T) {
	x := tensor.New(2, 3, 4, 5)
	f := Flatten(x)
	if !slices.Equal(f.Shape, []int{2, 60}) || &f.Data[0] != &x.Data[0] {
		t.Errorf("Flatten: shape %v, shares data %v", f.Shape, &f.Data[0] == &x.Data[0])
	}
}
