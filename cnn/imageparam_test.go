package cnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
)

// spectralFDTol bounds the error of the Fourier parameterisation's
// gradient against central differences: the map is smooth and computed in
// float64, so only the truncation error of the central formula (O(h²) at
// h = 1e-4) and float32 storage of the upstream gradient remain.
const spectralFDTol = 1e-5

// adjointTol bounds |⟨Wx, y⟩ − ⟨x, Wᵀy⟩| relative to ‖Wx‖·‖y‖: float32
// sums of a few hundred products.
const adjointTol = 1e-5

func TestDCTOrthonormal(t *testing.T) {
	for _, n := range []int{1, 5, 28} {
		d := dct(n)
		for i := range n {
			for j := range n {
				var s float64
				for k := range n {
					s += d[i*n+k] * d[j*n+k]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(s-want) > 1e-12 {
					t.Fatalf("n=%d: row %d · row %d = %v, want %v", n, i, j, s, want)
				}
			}
		}
	}
}

func TestSpectralGradient(t *testing.T) {
	const c, h, w = 2, 5, 4
	rng := rand.New(rand.NewPCG(5, 6))
	s := newSpectral(c, h, w, 0, 1, 1)
	p := make([]float64, c*h*w)
	s.init(p, rng, 1)
	// loss = Σ u ⊙ x(p), u random: its image gradient is u.
	u := make([]float32, len(p))
	for i := range u {
		u[i] = float32(rng.NormFloat64())
	}
	img, sig := make([]float32, len(p)), make([]float64, len(p))
	loss := func(q []float64) float64 {
		x, sg := make([]float32, len(q)), make([]float64, len(q))
		// The loss in float64: rebuild the image without float32 rounding.
		s.image(x, sg, q)
		var l float64
		for i := range sg {
			l += float64(u[i]) * (s.lo + (s.hi-s.lo)*sg[i])
		}
		return l
	}
	s.image(img, sig, p)
	grad := make([]float64, len(p))
	s.backward(grad, u, sig)
	if e, at := nn.GradCheck(loss, p, grad, 1e-4); e > spectralFDTol {
		t.Errorf("Fourier parameterisation gradient at coefficient %d: error %.3g", at, e)
	}
	// The 1/f scaling: a step on the constant coefficient moves the image
	// more than the same step on the highest frequency.
	if !(s.scale[0] > 5*s.scale[h*w-1]) {
		t.Errorf("scale of the constant %v and of the highest frequency %v: want 1/f decay", s.scale[0], s.scale[h*w-1])
	}
	for _, v := range img {
		if !(v > 0 && v < 1) {
			t.Fatalf("pixel %v outside the sigmoid's range (0, 1)", v)
		}
	}
}

func TestWarpAdjointAndShift(t *testing.T) {
	const c, h, w = 2, 7, 6
	rng := rand.New(rand.NewPCG(7, 8))
	x, y := make([]float32, c*h*w), make([]float32, c*h*w)
	for i := range x {
		x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	wx, wty := make([]float32, len(x)), make([]float32, len(x))
	for i := range 20 {
		wp := randomWarp(rng, h, w, 2, 0.2, 20)
		if i == 0 {
			wp = newWarp(h, w, 1, -2, 1, 0) // a whole-pixel shift
		}
		wp.apply(wx, x, c, 0)
		wp.transpose(wty, y, c)
		var a, b, nx, ny float64
		for k := range x {
			a += float64(wx[k]) * float64(y[k])
			b += float64(x[k]) * float64(wty[k])
			nx += float64(wx[k]) * float64(wx[k])
			ny += float64(y[k]) * float64(y[k])
		}
		if math.Abs(a-b) > adjointTol*math.Sqrt(nx*ny) {
			t.Errorf("warp %d: ⟨Wx, y⟩ = %v, ⟨x, Wᵀy⟩ = %v", i, a, b)
		}
		if i == 0 {
			// out(y, x) = in(y − 1, x + 2), and the fill where that is outside.
			if got, want := wx[1*h*w+3*w+1], x[1*h*w+2*w+3]; got != want {
				t.Errorf("shift by (1, −2): pixel (3, 1) is %v, want source (2, 3) = %v", got, want)
			}
			if got := wx[0]; got != 0 {
				t.Errorf("shift by (1, −2): pixel (0, 0) is %v, want the fill 0", got)
			}
		}
	}
}

// TestMaximizeEndToEndGradient checks the whole chain the optimiser
// differentiates — coefficients → image → warp → network → unit mean —
// against a central difference along random directions.
func TestMaximizeEndToEndGradient(t *testing.T) {
	m := mustNew(t, tinyConfigs()["cnn"])
	c := m.Cfg
	const point, unit = hooks.Name("conv2.hook_out"), 1
	v := m.newVis(point, []int{unit}, MaximizeOptions{Param: FourierParam, Decay: 1, Lo: 0, Hi: 1, Steps: 1, LR: 0.05, Seed: 3})
	rng := rand.New(rand.NewPCG(11, 12))
	wp := randomWarp(rng, c.InH, c.InW, 1, 0.1, 10)
	objective := func(p []float64) float64 {
		img, sig := make([]float32, v.per), make([]float64, v.per)
		v.spec.image(img, sig, p)
		warped := make([]float32, v.per)
		wp.apply(warped, img, c.InC, 0)
		if err := v.ws.Forward(ctx, warped, Pass{}, nil); err != nil {
			t.Fatal(err)
		}
		return v.activation(0)
	}
	p := nn.To64(v.params)
	// The analytic gradient, as step computes it before normalisation.
	img, sig := make([]float32, v.per), make([]float64, v.per)
	v.spec.image(img, sig, p)
	warped, dwarped, gimg := make([]float32, v.per), make([]float32, v.per), make([]float32, v.per)
	wp.apply(warped, img, c.InC, 0)
	if err := inputGrad(ctx, v.ws, warped, make([]float32, c.NClasses), v.seed, dwarped); err != nil {
		t.Fatal(err)
	}
	wp.transpose(gimg, dwarped, c.InC)
	grad := make([]float64, v.per)
	v.spec.backward(grad, gimg, sig)
	for i := range 3 {
		d := make([]float64, len(p))
		for k := range d {
			d[k] = rng.NormFloat64()
		}
		const h = 1e-2
		plus, minus := slices.Clone(p), slices.Clone(p)
		var analytic float64
		for k := range p {
			plus[k] += h * d[k]
			minus[k] -= h * d[k]
			analytic -= grad[k] * d[k] // grad is of −objective
		}
		numeric := (objective(plus) - objective(minus)) / (2 * h)
		if e := math.Abs(analytic-numeric) / math.Max(1e-3, math.Abs(numeric)); e > linearRegimeTol {
			t.Errorf("direction %d: analytic %.6g, central difference %.6g (relative error %.3g)", i, analytic, numeric, e)
		}
	}
}
