package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

func TestDropout(t *testing.T) {
	const n, p = 100_000, 0.3
	const seed = 5
	mask := make([]float32, n)
	DropoutMask(mask, p, rand.New(rand.NewPCG(seed, seed)))
	kept := 0
	for _, m := range mask {
		if m != 0 && m != 1 {
			t.Fatalf("mask holds %v, want 0 or 1", m)
		}
		kept += int(m)
	}
	// Binomial(n, 1−p): standard deviation √(n·p·(1−p)) ≈ 145; allow 5σ.
	if want := n * (1 - p); math.Abs(float64(kept)-want) > 5*math.Sqrt(n*p*(1-p)) {
		t.Errorf("kept %d of %d, want about %v", kept, n, want)
	}
	again := make([]float32, n)
	DropoutMask(again, p, rand.New(rand.NewPCG(seed, seed)))
	if !slices.Equal(mask, again) {
		t.Error("the same seed gave a different mask")
	}
	for _, tt := range []struct {
		p   float32
		rng *rand.Rand
	}{{0, rand.New(rand.NewPCG(1, 1))}, {0.5, nil}} {
		DropoutMask(again, tt.p, tt.rng)
		for _, m := range again {
			if m != 1 {
				t.Fatalf("p = %v, rng %v: mask holds %v, want all 1", tt.p, tt.rng, m)
			}
		}
	}

	// Inverted scaling keeps the expected value; the gradient is the same
	// linear map.
	rng := rand.New(rand.NewPCG(seed, seed))
	x, g := randNormal(rng, 33), randNormal(rng, 33)
	m := make([]float32, 33)
	DropoutMask(m, p, rng)
	y := make([]float32, 33)
	DropoutForward(y, x, m, p)
	for i := range y {
		if want := x[i] * m[i] / (1 - p); math.Abs(float64(y[i]-want)) > 1e-6 {
			t.Errorf("y[%d] = %v, want %v", i, y[i], want)
		}
	}
	dx := make([]float32, 33)
	DropoutBackward(dx, g, m, p)
	checkGrad(t, seed, "x", x, To64(dx), func() float64 {
		DropoutForward(y, x, m, p)
		return tensor.Dot(g, y)
	}, linearGradTol)
	DropoutBackward(nil, g, m, p)

	wantShapePanic(t, "p = 1", func() { DropoutMask(m, 1, rng) })
	wantShapePanic(t, "p < 0", func() { DropoutForward(y, x, m, -0.1) })
	wantShapePanic(t, "short mask", func() { DropoutForward(y, x, m[1:], p) })
}
