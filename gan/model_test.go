package gan

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

// tinyConfigs are small GANs of both architectures for gradient checks and
// hook tests: a DCGAN on 2-channel 8×4 images and a 3-layer MLP GAN.
func tinyConfigs() map[string]Config {
	return map[string]Config{
		"dcgan": {Arch: ArchDCGAN, ZDim: 3, ImageC: 2, ImageH: 8, ImageW: 4, GWidth: 4, DWidth: 2, Seed: 1},
		"mlp":   {Arch: ArchMLP, ZDim: 3, DataDim: 2, Hidden: 5, GLayers: 2, DLayers: 2, Seed: 2},
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

func randNormal(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	SampleZ(x, rng)
	return x
}

// Tolerances of the model tests.
const (
	// smoothGradTol bounds |analytic − central difference| / max(1, |cd|)
	// for the whole network's gradient when no ReLU or LeakyReLU input lies
	// within reach of a step (smoothRegime): each layer's Backward is
	// checked in package nn, so this checks the wiring, where a mistake is
	// an O(1) error. Training-mode BatchNorm couples a whole channel and
	// the loss is a float32 forward of O(1) through up to eight layers,
	// whose rounding (≈1e-6) over a step of 1e-2 leaves ≈1e-4 of noise.
	smoothGradTol = 2e-3
	// kinkMargin is how far from 0 every ReLU and LeakyReLU input must stay
	// in the smooth regime: a step of nn.GradCheckStep on one parameter
	// moves an input by far less.
	kinkMargin = 0.1
	// splitTol bounds the difference between BatchNorm's fused backward and
	// the split one through x̂ that a hook on x̂ selects: both compute the
	// same float32 expression in a different order.
	splitTol = 1e-5
)

// smoothRegime sets every BatchNorm to γ = 0.5, β = 3 and every bias of a
// block with an activation but no BatchNorm to 3, so that activation inputs
// stay well away from the kinks at 0 for the test's inputs. It scales the
// weights before a BatchNorm up to unit size: DCGAN's N(0, 0.02²) would make
// a step of nn.GradCheckStep half a weight, and the normalised output far
// from linear over it.
func smoothRegime(n *Net) {
	for _, k := range n.blocks {
		set := func(sp span, v float32) {
			for j := range n.P.view(sp) {
				n.P.view(sp)[j] = v
			}
		}
		if k.bn {
			set(k.gamma, 0.5)
			set(k.beta, 3)
			if n.P.Spec(0).Init == initDCGAN.init(0) {
				tensor.Scale(25, n.P.view(k.w))
			}
		} else if k.act == actReLU || k.act == actLeaky {
			set(k.b, 3)
		}
	}
}

// checkAwayFromKinks fails the test unless every ReLU or LeakyReLU input of
// the last pass is at least kinkMargin from 0.
func checkAwayFromKinks(t *testing.T, ws *Workspace) {
	t.Helper()
	for i, k := range ws.n.blocks {
		if k.act != actReLU && k.act != actLeaky {
			continue
		}
		in := ws.act[i].pre
		if k.bn {
			in = ws.act[i].bnOut
		}
		for _, v := range in.Data {
			if math.Abs(float64(v)) < kinkMargin {
				t.Fatalf("%s block %d: activation input %v within %v of the kink: not a smooth regime", ws.n.Name, i, v, kinkMargin)
			}
		}
	}
}

// gradCase runs one network of a model in a mode, with loss Σ r·out.
type gradCase struct {
	ws    *Workspace
	x, r  []float32
	train bool
}

func (c gradCase) loss(t testing.TB) float64 {
	if err := c.ws.Forward(c.x, c.train, nil); err != nil {
		t.Fatal(err)
	}
	return tensor.Dot(c.r, c.ws.Out().Data)
}

func TestNetGradients(t *testing.T) {
	for name, cfg := range tinyConfigs() {
		for _, net := range []string{"G", "D"} {
			for _, train := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/train=%v", name, net, train), func(t *testing.T) {
					m := mustNew(t, cfg)
					n := m.G
					if net == "D" {
						n = m.D
					}
					smoothRegime(n)
					const batch = 3
					seed := cfg.Seed
					rng := rand.New(rand.NewPCG(seed, 99))
					ws := n.NewWorkspace(batch)
					c := gradCase{ws: ws, x: randNormal(rng, batch*n.InSize()), r: randNormal(rng, batch*n.OutSize()), train: train}
					// Running statistics near the batch's, for evaluation.
					for range 30 {
						if err := ws.Forward(c.x, true, nil); err != nil {
							t.Fatal(err)
						}
						ws.UpdateRunningStats()
					}
					c.loss(t)
					checkAwayFromKinks(t, ws)
					g := n.NewGrads()
					dx := make([]float32, len(c.x))
					if err := ws.Backward(c.r, g, dx, nil); err != nil {
						t.Fatal(err)
					}
					check := func(what string, p, grad []float32) {
						t.Helper()
						p0 := nn.To64(p)
						f := func(v []float64) float64 {
							nn.To32(p, v)
							return c.loss(t)
						}
						if e, at := nn.GradCheck(f, slices.Clone(p0), nn.To64(grad), nn.GradCheckStep); e > smoothGradTol {
							t.Errorf("seed %d: %s[%d]: error %.3g > %.3g", seed, what, at, e, smoothGradTol)
						}
						nn.To32(p, p0)
					}
					gl := g.List()
					for i, p := range n.P.List() {
						check(p.Name, p.Data, gl[i].Data)
					}
					check("input", c.x, dx)
				})
			}
		}
	}
}

// TestBatchNormHookPath checks that a hook on x̂, which routes the backward
// pass through BatchNorm's split backward, gives the fused path's gradients,
// and that an identity forward hook on every point leaves the output
// bit-identical.
func TestBatchNormHookPath(t *testing.T) {
	m := mustNew(t, tinyConfigs()["dcgan"])
	rng := rand.New(rand.NewPCG(3, 3))
	const batch = 4
	for _, n := range []*Net{m.G, m.D} {
		ws := n.NewWorkspace(batch)
		x, r := randNormal(rng, batch*n.InSize()), randNormal(rng, batch*n.OutSize())
		run := func(hs *hooks.Set) (out, dx, grads []float32) {
			if err := ws.Forward(x, true, hs); err != nil {
				t.Fatal(err)
			}
			out = slices.Clone(ws.Out().Data)
			g := n.NewGrads()
			dx = make([]float32, len(x))
			if err := ws.Backward(r, g, dx, hs); err != nil {
				t.Fatal(err)
			}
			return out, dx, g.Data()
		}
		out0, dx0, g0 := run(nil)
		identity := hooks.NewSet().AddMatch(hooks.All, func(*tensor.Tensor, hooks.Name) *tensor.Tensor { return nil }).
			AddBackwardMatch(func(n hooks.Name) bool { return strings.HasSuffix(string(n), "hook_normalized") },
				func(*tensor.Tensor, hooks.Name) *tensor.Tensor { return nil })
		out1, dx1, g1 := run(identity)
		if !slices.Equal(out0, out1) {
			t.Errorf("%s: identity hooks changed the output", n.Name)
		}
		for what, pair := range map[string][2][]float32{"dx": {dx0, dx1}, "params": {g0, g1}} {
			for i := range pair[0] {
				if d := math.Abs(float64(pair[0][i] - pair[1][i])); d > splitTol*math.Max(1, math.Abs(float64(pair[0][i]))) {
					t.Errorf("%s %s[%d]: fused %v, split %v", n.Name, what, i, pair[0][i], pair[1][i])
					break
				}
			}
		}
	}
}

func TestPoints(t *testing.T) {
	c := DCGAN()
	c.GWidth, c.DWidth = 128, 64
	m := mustNew(t, c)
	want := map[hooks.Name][]int{
		"G.hook_z":                        {100},
		"G.blocks.0.hook_pre":             {128, 7, 7},
		"G.blocks.0.bn.hook_normalized":   {128, 7, 7},
		"G.blocks.1.hook_out":             {64, 14, 14},
		"G.blocks.2.hook_pre":             {1, 28, 28},
		"G.blocks.2.hook_out":             {1, 28, 28},
		"D.hook_input":                    {1, 28, 28},
		"D.blocks.0.hook_out":             {64, 14, 14},
		"D.blocks.1.bn.hook_normalized":   {128, 7, 7},
		"D.blocks.1.hook_out":             {128, 7, 7},
		"D.hook_logit":                    {1},
		"D.blocks.1.hook_normalized_grad": {128, 7, 7},
	}
	for name, s := range want {
		got, ok := m.PointShape(name)
		if strings.HasSuffix(string(name), "normalized_grad") {
			got, ok = m.PointShape("D.blocks.1.bn.hook_normalized_grad")
		}
		if !ok || !slices.Equal(got, s) {
			t.Errorf("PointShape(%q) = %v, %v; want %v", name, got, ok, s)
		}
	}
	if _, err := m.ParseHook("G.blocks.1.hook_outt"); err == nil || !strings.Contains(err.Error(), "G.blocks.1.hook_out") {
		t.Errorf("ParseHook of a typo: %v, want a suggestion", err)
	}
	// Every point is reachable in a workspace, with its shape.
	ctx := context.Background()
	z := tensor.New(2, 100)
	SampleZ(z.Data, rand.New(rand.NewPCG(1, 1)))
	seen := map[hooks.Name][]int{}
	rec := hooks.NewSet().AddMatch(hooks.All, func(a *tensor.Tensor, n hooks.Name) *tensor.Tensor {
		seen[n] = slices.Clone(a.Shape)
		return nil
	})
	img, err := m.Generate(ctx, z, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Discriminate(ctx, img, rec); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Points() {
		s, ok := seen[p.Name]
		if !ok || !slices.Equal(s[1:], p.Shape) || s[0] != 2 {
			t.Errorf("hook %q saw shape %v, want [2 %v]", p.Name, s, p.Shape)
		}
	}
	if len(seen) != len(m.Points()) {
		t.Errorf("hooks fired on %d points, Points lists %d", len(seen), len(m.Points()))
	}
	if _, err := m.Generate(ctx, tensor.New(2, 99), nil); err == nil {
		t.Error("Generate accepted z of the wrong width")
	}
}
