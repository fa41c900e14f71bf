package cnn

import (
	"math"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/hooks"
)

// demoModel loads the dashboard's embedded Fashion-MNIST classifier, a
// file of this repository (web/cnndemo).
func demoModel(t *testing.T) *Model {
	t.Helper()
	m, err := Load("../web/cnndemo/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// demoVis is the regularised setup the CNN page uses by default.
var demoVis = MaximizeOptions{Param: FourierParam, Decay: 1.5, Steps: 64, LR: 0.1, Jitter: 2, Scale: 0.1, Rotate: 10, Seed: 1}

// TestMaximizeDemoUnitsRise runs the regularised setup on every unit of
// the demo classifier's second ReLU and its logits, as the page's gallery
// does, and asks that most units' activations rise substantially (at least
// double, plus 0.05) from the random start, beat the best of 64 random
// images, and that every image moves away from its start.
func TestMaximizeDemoUnitsRise(t *testing.T) {
	m := demoModel(t)
	for _, point := range []hooks.Name{"relu2.hook_out", "fc.hook_out"} {
		shape, _ := m.PointShape(point)
		units := make([]int, shape[0])
		for i := range units {
			units[i] = i
		}
		rs, err := m.MaximizeUnits(ctx, point, units, demoVis, nil)
		if err != nil {
			t.Fatal(err)
		}
		rose, beat, moved := 0, 0, 0
		for _, r := range rs {
			first, last := r.Trace[0], r.Trace[len(r.Trace)-1]
			if last >= 2*first+0.05 {
				rose++
			}
			if last > bestRandom(t, m, point, r.Unit, 64) {
				beat++
			}
			var d float64
			for i, v := range r.Image {
				d += math.Abs(float64(v - r.Start[i]))
			}
			if d/float64(len(r.Image)) >= 0.1 {
				moved++
			}
			t.Logf("%s unit %d: %.3f → %.3f, pixels moved %.3f on average", point, r.Unit, first, last, d/float64(len(r.Image)))
		}
		t.Logf("%s: %d of %d units rose substantially, %d beat 64 random images, %d images moved", point, rose, len(rs), beat, moved)
		// A unit dead on every input (relu2 unit 17 of the demo) has no
		// gradient and cannot move: "most", not all.
		if 4*rose < 3*len(rs) || 4*beat < 3*len(rs) || 4*moved < 3*len(rs) {
			t.Errorf("%s: of %d units %d rose, %d beat random images, %d images moved: want at least 80%% each", point, len(rs), rose, beat, moved)
		}
	}
}

// TestFourierSmootherThanPixels: at the same steps and transformations,
// the 1/f-scaled Fourier parameterisation gives images with less total
// variation than optimising the pixels (the decorrelation it is for).
func TestFourierSmootherThanPixels(t *testing.T) {
	m := demoModel(t)
	c := m.Cfg
	units := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	pix := demoVis
	pix.Param, pix.Decay = PixelParam, 0
	tv := func(o MaximizeOptions) float64 {
		rs, err := m.MaximizeUnits(ctx, "fc.hook_out", units, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, r := range rs {
			s += tvAdd(make([]float32, len(r.Image)), r.Image, c.InC, c.InH, c.InW, 0)
		}
		return s / float64(len(rs))
	}
	f, p := tv(demoVis), tv(pix)
	t.Logf("mean total variation: Fourier %.1f, pixels %.1f", f, p)
	if !(f < p/2) {
		t.Errorf("mean total variation: Fourier %.1f, pixels %.1f: want Fourier below half", f, p)
	}
}

// TestMaximizeUnitsBatchInvariant: a unit's image is the same alone as in
// a batch of units.
func TestMaximizeUnitsBatchInvariant(t *testing.T) {
	m := mustNew(t, tinyConfigs()["cnn"])
	o := MaximizeOptions{Param: FourierParam, Steps: 20, Jitter: 1, Scale: 0.1, Rotate: 10, Seed: 5}
	rs, err := m.MaximizeUnits(ctx, "conv2.hook_out", []int{0, 2, 3}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	one, err := m.MaximizeUnit(ctx, "conv2.hook_out", 2, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one.Image, rs[1].Image) {
		t.Errorf("unit 2 alone and in a batch: different images")
	}
}
