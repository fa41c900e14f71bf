package cnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
)

func TestMaximizeUnitRaisesTheActivation(t *testing.T) {
	configs := tinyConfigs()
	configs["classifier"] = Classifier()
	// The penalties would dominate the tiny gradients of these random
	// networks, and jitter moves a 6×6 image too far: the raw objective on
	// the tiny nets, jitter on the 28×28 classifier.
	tiny := MaximizeOptions{Steps: 100, LR: 0.05, Seed: 4}
	full := MaximizeOptions{Steps: 60, LR: 0.05, Jitter: 2, Seed: 4}
	for _, tc := range []struct {
		arch  string
		point hooks.Name
		unit  int
		o     MaximizeOptions
	}{
		{"cnn", "conv2.hook_out", 3, tiny},
		{"cnn", "fc.hook_out", 1, tiny},
		{"resnet-basic", "layer2.0.hook_resid_post", 1, tiny},
		{"resnet-basic", "layer1.1.bn2.hook_normalized", 0, tiny},
		{"resnet-bottleneck", "layer2.1.hook_shortcut", 0, tiny},
		{"plain-basic", "layer1.1.hook_branch", 1, tiny},
		{"classifier", "relu2.hook_out", 7, full},
		{"classifier", "fc.hook_out", 4, full},
	} {
		t.Run(tc.arch+"/"+string(tc.point), func(t *testing.T) {
			m := mustNew(t, configs[tc.arch])
			o := tc.o
			r, err := m.MaximizeUnit(ctx, tc.point, tc.unit, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Trace) != o.Steps+1 || len(r.Objective) != o.Steps {
				t.Fatalf("trace of %d and objective of %d values for %d steps", len(r.Trace), len(r.Objective), o.Steps)
			}
			// The optimised image beats the initial one and 64 random
			// images of the same pixel range.
			first, last := r.Trace[0], r.Trace[len(r.Trace)-1]
			best := bestRandom(t, m, tc.point, tc.unit, 64)
			t.Logf("activation %.4f → %.4f; best of 64 random images %.4f", first, last, best)
			if !(last > first && last > best) {
				t.Errorf("activation went from %.4f to %.4f, and random images reach %.4f; want the optimised image on top", first, last, best)
			}
			if slices.ContainsFunc(r.Image, func(v float32) bool { return v < 0 || v > 1 }) {
				t.Errorf("image leaves the pixel range [0, 1]")
			}
			again, err := m.MaximizeUnit(ctx, tc.point, tc.unit, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(again.Image, r.Image) {
				t.Errorf("same options and seed, different images")
			}
		})
	}
}

func TestMaximizePenalties(t *testing.T) {
	m := mustNew(t, Classifier())
	o := MaximizeOptions{Steps: 60, Seed: 2}
	free, err := m.MaximizeUnit(ctx, "relu2.hook_out", 3, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.TV, o.L2 = 0.05, 0.01
	smooth, err := m.MaximizeUnit(ctx, "relu2.hook_out", 3, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cfg
	tv := func(x []float32) float64 { return tvAdd(make([]float32, len(x)), x, c.InC, c.InH, c.InW, 0) }
	t.Logf("total variation %.2f without the penalty, %.2f with; objective %.4f → %.4f", tv(free.Image), tv(smooth.Image), smooth.Objective[0], smooth.Objective[len(smooth.Objective)-1])
	if !(tv(smooth.Image) < tv(free.Image)/2) {
		t.Errorf("total variation %.2f with the penalty, %.2f without: want it at least halved", tv(smooth.Image), tv(free.Image))
	}
	if first, last := smooth.Objective[0], smooth.Objective[len(smooth.Objective)-1]; !(last > first) {
		t.Errorf("penalised objective went from %.4f to %.4f", first, last)
	}
}

func TestTVGradient(t *testing.T) {
	const c, h, w = 2, 4, 3
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, c*h*w)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	grad := make([]float32, len(x))
	tvAdd(grad, x, c, h, w, 1)
	f := func(p []float64) float64 {
		nn.To32(x, p)
		return tvAdd(make([]float32, len(x)), x, c, h, w, 1)
	}
	if e, at := nn.GradCheck(f, nn.To64(x), nn.To64(grad), nn.GradCheckStep); e > linearRegimeTol {
		t.Errorf("total-variation gradient at %d: error %.3g", at, e)
	}
}

func TestMaximizeErrors(t *testing.T) {
	m := mustNew(t, tinyConfigs()["cnn"]) // 2×8×6 images, conv1 3 units, dropout
	for _, tc := range []struct {
		name  string
		point hooks.Name
		unit  int
		o     MaximizeOptions
		want  string
	}{
		{"unknown point", "conv9.hook_out", 0, MaximizeOptions{}, "conv9"},
		{"gradient", "conv1.hook_out_grad", 0, MaximizeOptions{}, "gradient"},
		{"input", InputPoint, 0, MaximizeOptions{}, "input"},
		{"dropout mask", "dropout1.hook_mask", 0, MaximizeOptions{}, "mask"},
		{"unit too big", "conv1.hook_out", 3, MaximizeOptions{}, "unit 3"},
		{"negative unit", "conv1.hook_out", -1, MaximizeOptions{}, "unit -1"},
		{"too many steps", "conv1.hook_out", 0, MaximizeOptions{Steps: MaxMaximizeSteps + 1}, "steps"},
		{"negative lr", "conv1.hook_out", 0, MaximizeOptions{LR: -1}, "learning rate"},
		{"jitter too big", "conv1.hook_out", 0, MaximizeOptions{Jitter: 6}, "jitter"},
		{"nan tv", "conv1.hook_out", 0, MaximizeOptions{TV: math.NaN()}, "penalties"},
		{"empty range", "conv1.hook_out", 0, MaximizeOptions{Lo: 1, Hi: 1}, "range"},
		{"short init", "conv1.hook_out", 0, MaximizeOptions{Init: make([]float32, 5)}, "5 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.MaximizeUnit(ctx, tc.point, tc.unit, tc.o, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("MaximizeUnit(%q, %d, %+v): error %v, want one mentioning %q", tc.point, tc.unit, tc.o, err, tc.want)
			}
		})
	}
}

// bestRandom returns the largest mean activation of unit at point over n
// images of uniform random pixels in [0, 1].
func bestRandom(t *testing.T, m *Model, point hooks.Name, unit, n int) float64 {
	t.Helper()
	c := m.Cfg
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, n*c.InC*c.InH*c.InW)
	for i := range x {
		x[i] = rng.Float32()
	}
	ws := m.NewWorkspace(n)
	if err := ws.Forward(ctx, x, Pass{}, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := ws.Act(point)
	per := len(a.Data) / n
	shape, _ := m.PointShape(point)
	pix := per / shape[0]
	best := math.Inf(-1)
	for b := range n {
		var s float64
		for _, v := range a.Data[b*per+unit*pix : b*per+(unit+1)*pix] {
			s += float64(v)
		}
		best = max(best, s/float64(pix))
	}
	return best
}
