package cnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Tolerances of the attribution tests.
const (
	// igCompletenessTol bounds |Σ IG − (f(x) − f(x′))| relative to
	// max(1, |f(x) − f(x′)|) for 512 midpoint steps. In evaluation mode the
	// networks are piecewise linear, so the integrand is piecewise constant
	// along the path and the midpoint rule errs only in the steps that
	// straddle a ReLU or max-pool switch: O(switches/m) of the gradient's
	// scale, at most 4e-4 measured for these tiny nets at m = 512 (against
	// up to 0.4 at m = 1), plus float32 rounding of the gradients (≈1e-6).
	igCompletenessTol = 2e-3
	// igExactTol is the float32 rounding left when the path is linear
	// (every unit on for the whole path) or empty.
	igExactTol = 1e-4
)

func TestSaliencyIsTheLogitGradient(t *testing.T) {
	for name, c := range tinyConfigs() {
		t.Run(name, func(t *testing.T) {
			m := mustNew(t, c)
			positiveBN(m) // every ReLU stays on: the logit is smooth in the input
			rng := rand.New(rand.NewPCG(c.Seed, 5))
			x, _ := randomBatch(m, rng, 1)
			class := m.Cfg.NClasses - 1
			grad, logit, err := m.Saliency(ctx, x, class, nil)
			if err != nil {
				t.Fatal(err)
			}
			f := func() float64 {
				l, err := m.Run(ctx, tensor.FromSlice(x, append([]int{1}, c.InC, c.InH, c.InW)...), nil)
				if err != nil {
					t.Fatal(err)
				}
				return float64(l.Data[class])
			}
			if got := f(); got != logit {
				t.Errorf("saliency logit %v, Run's %v", logit, got)
			}
			checkDirectional(t, "saliency", x, grad, f, rng, linearRegimeTol)
		})
	}
}

func TestIntegratedGradientsCompleteness(t *testing.T) {
	for name, c := range tinyConfigs() {
		t.Run(name, func(t *testing.T) {
			m := mustNew(t, c)
			rng := rand.New(rand.NewPCG(c.Seed, 6))
			x, _ := randomBatch(m, rng, 1)
			base := make([]float32, len(x))
			for i := range base {
				base[i] = float32(rng.NormFloat64())
			}
			for _, steps := range []int{1, 37, 512} {
				a, err := m.IntegratedGradients(ctx, x, 1, IGOptions{Steps: steps, Baseline: base}, nil)
				if err != nil {
					t.Fatal(err)
				}
				diff := a.Logit - a.BaselineLogit
				rel := a.CompletenessError() / math.Max(1, math.Abs(diff))
				t.Logf("steps %d: Σ IG %.5f, f(x) − f(x′) %.5f, relative error %.2e", steps, a.Sum, diff, rel)
				if a.Steps != steps || len(a.Map) != len(x) {
					t.Errorf("steps %d: got %d steps and %d values", steps, a.Steps, len(a.Map))
				}
				if steps == 512 && rel > igCompletenessTol {
					t.Errorf("seed %d, steps %d: Σ IG = %.6f but f(x) − f(x′) = %.6f (relative error %.2e > %.0e)", c.Seed, steps, a.Sum, diff, rel, igCompletenessTol)
				}
			}
		})
	}
}

func TestIntegratedGradientsExactCases(t *testing.T) {
	c := tinyConfigs()["resnet-basic"]
	m := mustNew(t, c)
	rng := rand.New(rand.NewPCG(11, 11))
	x, _ := randomBatch(m, rng, 1)

	// Baseline = image: nothing to attribute.
	a, err := m.IntegratedGradients(ctx, x, 0, IGOptions{Steps: 5, Baseline: x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sum != 0 || a.Logit != a.BaselineLogit || slices.ContainsFunc(a.Map, func(v float32) bool { return v != 0 }) {
		t.Errorf("baseline = image: sum %v, logits %v and %v; want all zero", a.Sum, a.Logit, a.BaselineLogit)
	}

	// All units on along the whole path: the logit is affine in the input,
	// so one step is exact and IG = (x − x′)·∇f.
	positiveBN(m)
	for i := range x {
		x[i] *= 0.1 // keep the path inside the region where every unit is on
	}
	a, err = m.IntegratedGradients(ctx, x, 2, IGOptions{Steps: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := a.CompletenessError() / math.Max(1, math.Abs(a.Logit-a.BaselineLogit)); e > igExactTol {
		t.Errorf("affine region, one step: completeness error %.2e > %.0e", e, igExactTol)
	}
	grad, _, err := m.Saliency(ctx, x, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if want := x[i] * grad[i]; math.Abs(float64(a.Map[i]-want)) > igExactTol*math.Max(1, math.Abs(float64(want))) {
			t.Fatalf("affine region: IG[%d] = %v, want x·∇f = %v", i, a.Map[i], want)
		}
	}
}

func TestAttributionUnderEdit(t *testing.T) {
	// Zero-ablating every unit of the first convolution cuts the input off:
	// saliency and IG are exactly zero.
	m := mustNew(t, tinyConfigs()["cnn"])
	shape, _ := m.PointShape("conv1.hook_out")
	ablate, err := m.EditHook("conv1.hook_out", Edit{A: ones(shape[0]), R: Zero()})
	if err != nil {
		t.Fatal(err)
	}
	hs := hooks.NewSet().Add("conv1.hook_out", ablate)
	x, _ := randomBatch(m, rand.New(rand.NewPCG(3, 3)), 1)
	grad, _, err := m.Saliency(ctx, x, 0, hs)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.IntegratedGradients(ctx, x, 0, IGOptions{Steps: 4}, hs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range grad {
		if grad[i] != 0 || a.Map[i] != 0 {
			t.Fatalf("input cut off: saliency[%d] = %v, IG = %v", i, grad[i], a.Map[i])
		}
	}
	if a.Logit != a.BaselineLogit {
		t.Errorf("input cut off: f(x) = %v ≠ f(x′) = %v", a.Logit, a.BaselineLogit)
	}
}

func TestAttributionErrors(t *testing.T) {
	m := mustNew(t, tinyConfigs()["cnn"]) // 2×8×6 images, 3 classes
	good := make([]float32, 2*8*6)
	nan := slices.Clone(good)
	nan[7] = float32(math.NaN())
	for _, tc := range []struct {
		name  string
		image []float32
		class int
		o     IGOptions
		want  string
	}{
		{"short image", good[:10], 0, IGOptions{}, "10 values"},
		{"nan pixel", nan, 0, IGOptions{}, "pixel 7"},
		{"class too big", good, 3, IGOptions{}, "class 3"},
		{"negative class", good, -1, IGOptions{}, "class -1"},
		{"too many steps", good, 0, IGOptions{Steps: MaxIGSteps + 1}, "steps"},
		{"negative steps", good, 0, IGOptions{Steps: -1}, "steps"},
		{"short baseline", good, 0, IGOptions{Baseline: good[:3]}, "baseline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.IntegratedGradients(ctx, tc.image, tc.class, tc.o, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cnn: ") {
				t.Errorf("IntegratedGradients(%s): error %v, want one mentioning %q", tc.name, err, tc.want)
			}
			if tc.o.Steps == 0 && tc.o.Baseline == nil {
				if _, _, err := m.Saliency(ctx, tc.image, tc.class, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Saliency(%s): error %v, want one mentioning %q", tc.name, err, tc.want)
				}
			}
		})
	}
}
