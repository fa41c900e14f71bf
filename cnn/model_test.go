package cnn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// tinyConfigs are small networks of every architecture, for gradient checks
// and hook tests: a classifier with dropout on non-square images, residual
// and plain networks with basic and bottleneck blocks (projection and
// identity shortcuts both occur).
func tinyConfigs() map[string]Config {
	return map[string]Config{
		"cnn": {Arch: ArchCNN, InC: 2, InH: 8, InW: 6, NClasses: 3, Channels: []int{3, 4}, Dropout: 0.25, Seed: 1},
		"resnet-basic": {Arch: ArchResNet, InC: 1, InH: 6, InW: 6, NClasses: 3, Block: BlockBasic,
			Stages: []int{2, 1}, Width: 2, Seed: 2},
		"resnet-bottleneck": {Arch: ArchResNet, InC: 1, InH: 5, InW: 4, NClasses: 2, Block: BlockBottleneck,
			Stages: []int{1, 2}, Width: 1, Seed: 3},
		"plain-basic": {Arch: ArchPlain, InC: 1, InH: 6, InW: 6, NClasses: 3, Block: BlockBasic,
			Stages: []int{2, 1}, Width: 2, Seed: 4},
	}
}

func mustNew(t testing.TB, c Config) *Model {
	t.Helper()
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomBatch returns n random images for m and labels.
func randomBatch(m *Model, rng *rand.Rand, n int) ([]float32, []int32) {
	c := m.Cfg
	x := make([]float32, n*c.InC*c.InH*c.InW)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(rng.IntN(c.NClasses))
	}
	return x, y
}

// Tolerances of the model tests.
const (
	// linearRegimeTol bounds the error of a directional derivative ⟨∇L, v⟩
	// against the central difference of L along v (‖v‖ = 1, step dirStep)
	// when every BatchNorm output is positive, so that no ReLU changes state
	// within a step: every layer's Backward is already checked element-wise
	// in package nn, so this checks the wiring, where a mistake is an O(1)
	// error. The error is measured against max(dirFloor, |difference|):
	// float32 rounding of a loss of O(1) through ten layers (≈1e-6)
	// divided by 2·dirStep leaves ≈5e-5 of absolute noise.
	linearRegimeTol = 2e-3
	dirFloor        = 0.05
	dirStep         = 1e-2
	// kinkedRegimeTol is the loose bound for arbitrary weights, where a
	// step crosses ReLU kinks and max-pool switches in these narrow
	// networks (errors up to 0.25 seen): it catches gross mistakes such as
	// a missing ReLU gate or a sign error.
	kinkedRegimeTol = 0.5
)

// lossFn runs a fresh pass of ws on (x, y) in the given mode and returns the
// loss in float64; dropout masks come from a generator seeded identically on
// every call.
func lossFn(t testing.TB, ws *Workspace, x []float32, y []int32, train bool) func() float64 {
	return func() float64 {
		pass := Pass{Train: train, RNG: rand.New(rand.NewPCG(7, 7))}
		if err := ws.Forward(context.Background(), x, pass, nil); err != nil {
			t.Fatal(err)
		}
		l, err := ws.Loss(y)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}

// checkDirectional compares ⟨grad, v⟩ with the central difference of loss
// along a random unit vector v for a parameter slice p that loss reads.
func checkDirectional(t *testing.T, what string, p, grad []float32, loss func() float64, rng *rand.Rand, tol float64) {
	t.Helper()
	v := make([]float64, len(p))
	var norm float64
	for i := range v {
		v[i] = rng.NormFloat64()
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	var analytic float64
	for i := range v {
		v[i] /= norm
		analytic += v[i] * float64(grad[i])
	}
	p0 := slices.Clone(p)
	at := func(h float64) float64 {
		for i := range p {
			p[i] = float32(float64(p0[i]) + h*v[i])
		}
		return loss()
	}
	numeric := (at(dirStep) - at(-dirStep)) / (2 * dirStep)
	copy(p, p0)
	if e := math.Abs(analytic-numeric) / math.Max(dirFloor, math.Abs(numeric)); e > tol {
		t.Errorf("%s: directional derivative %.6g, central difference %.6g (error %.3g > %.3g)", what, analytic, numeric, e, tol)
	}
}

// positiveBN sets every BatchNorm's γ to 0.5 and β to 3, so that its
// outputs, within ±6 standard deviations of β, are positive and every ReLU
// stays on.
func positiveBN(m *Model) {
	for _, p := range m.P.List() {
		if !strings.Contains(p.Name, "bn") && !strings.Contains(p.Name, "downsample.1") {
			continue
		}
		v := float32(0.5)
		if strings.HasSuffix(p.Name, ".bias") {
			v = 3
		}
		for i := range p.Data {
			p.Data[i] = v
		}
	}
}

func TestModelGradients(t *testing.T) {
	for name, c := range tinyConfigs() {
		for _, regime := range []string{"linear", "kinked"} {
			for _, train := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/train=%v", name, regime, train), func(t *testing.T) {
					m := mustNew(t, c)
					rng := rand.New(rand.NewPCG(c.Seed, 99))
					const batch = 3
					x, y := randomBatch(m, rng, batch)
					ws := m.NewWorkspace(batch)
					tol := kinkedRegimeTol
					if regime == "linear" {
						positiveBN(m)
						tol = linearRegimeTol
					}
					// Running statistics near the batch's, for evaluation.
					lossFn(t, ws, x, y, true)()
					for range 20 {
						if err := ws.UpdateRunningStats(); err != nil {
							t.Fatal(err)
						}
					}
					loss := lossFn(t, ws, x, y, train)
					loss()
					g := m.NewGrads()
					var dx []float32
					hs := hooks.NewSet().AddBackward(InputPoint, func(d *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
						dx = slices.Clone(d.Data)
						return nil
					})
					if err := ws.Backward(g, hs); err != nil {
						t.Fatal(err)
					}
					gl := g.List()
					for i, p := range m.P.List() {
						checkDirectional(t, p.Name, p.Data, gl[i].Data, loss, rng, tol)
					}
					checkDirectional(t, "input", x, dx, loss, rng, tol)

					// The head's bias element by element: the loss is smooth in it.
					fcb, _, _ := m.P.Get("fc.bias")
					dfcb, _, _ := g.Get("fc.bias")
					f := func(b []float64) float64 {
						nn.To32(fcb, b)
						return loss()
					}
					b0 := nn.To64(fcb)
					if e, at := nn.GradCheck(f, slices.Clone(b0), nn.To64(dfcb), nn.GradCheckStep); e > linearRegimeTol {
						t.Errorf("fc.bias[%d]: error %.3g", at, e)
					}
					nn.To32(fcb, b0)
				})
			}
		}
	}
}
