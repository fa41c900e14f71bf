package cnn

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

var ctx = context.Background()

func TestHookPointNames(t *testing.T) {
	m := mustNew(t, Classifier())
	want := []string{
		"hook_input [1 28 28]",
		"conv1.hook_out [16 28 28]", "bn1.hook_normalized [16 28 28]", "bn1.hook_out [16 28 28]",
		"relu1.hook_out [16 28 28]", "pool1.hook_out [16 14 14]",
		"conv2.hook_out [32 14 14]", "bn2.hook_normalized [32 14 14]", "bn2.hook_out [32 14 14]",
		"relu2.hook_out [32 14 14]", "pool2.hook_out [32 7 7]",
		"dropout1.hook_mask [32 7 7]", "dropout1.hook_out [32 7 7]", "fc.hook_out [10]",
	}
	var got []string
	for _, p := range m.Points() {
		got = append(got, string(p.Name)+" "+fmtInts(p.Shape))
	}
	if !slices.Equal(got, want) {
		t.Errorf("classifier points:\n got %q\nwant %q", got, want)
	}

	r := mustNew(t, ResNet(BlockBasic, 1, 1))
	names := r.HookPoints()
	for _, n := range []hooks.Name{"layer1.0.hook_branch", "layer1.0.hook_shortcut", "layer1.0.hook_resid_post",
		"layer1.0.hook_out", "layer2.0.downsample.0.hook_out", "layer2.0.downsample.1.hook_normalized",
		"layer2.0.conv2.hook_out", "avgpool.hook_out", "fc.hook_out"} {
		if !slices.Contains(names, n) {
			t.Errorf("resnet has no point %q", n)
		}
	}
	if s, _ := r.PointShape("layer2.0.hook_shortcut"); !slices.Equal(s, []int{32, 14, 14}) {
		t.Errorf("layer2.0.hook_shortcut shape %v, want [32 14 14]", s)
	}
	if s, _ := r.PointShape("layer2.0.hook_out_grad"); !slices.Equal(s, []int{32, 14, 14}) {
		t.Errorf("gradient point shape %v", s)
	}
	p := mustNew(t, Plain(BlockBasic, 1, 1))
	for _, n := range p.HookPoints() {
		if strings.Contains(string(n), "shortcut") || strings.Contains(string(n), "resid_post") || strings.Contains(string(n), "downsample") {
			t.Errorf("plain network has residual point %q", n)
		}
	}
	if _, err := m.ParseHook("bn1.hook_normalised"); err == nil || !strings.Contains(err.Error(), "bn1.hook_normalized") {
		t.Errorf("ParseHook(typo) = %v, want a suggestion", err)
	}
}

func fmtInts(s []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(itoa(v))
	}
	b.WriteByte(']')
	return b.String()
}

// runCached runs ws forward (and backward when grads) with a cache of every
// point merged after extra hooks, and returns the cache.
func runCached(t *testing.T, ws *Workspace, x []float32, y []int32, pass Pass, extra *hooks.Set, grads bool) *hooks.Cache {
	t.Helper()
	capture, cache := hooks.Capture(nil)
	if grads {
		capture, cache = hooks.CaptureWithGrads(nil)
	}
	hs := hooks.Merge(extra, capture)
	if err := ws.Forward(ctx, x, pass, hs); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Loss(y); err != nil {
		t.Fatal(err)
	}
	if grads {
		if err := ws.Backward(ws.m.NewGrads(), hs); err != nil {
			t.Fatal(err)
		}
	}
	return cache
}

// TestHooksObserve checks that caching every point changes nothing, that the
// cache holds each point with its documented shape and the workspace's
// value, and the residual invariants resid_post = branch + shortcut,
// out = ReLU(resid_post).
func TestHooksObserve(t *testing.T) {
	for name, c := range tinyConfigs() {
		t.Run(name, func(t *testing.T) {
			m := mustNew(t, c)
			rng := rand.New(rand.NewPCG(c.Seed, 5))
			const batch = 4
			x, y := randomBatch(m, rng, batch)
			pass := Pass{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}
			ws := m.NewWorkspace(batch)
			if err := ws.Forward(ctx, x, pass, nil); err != nil {
				t.Fatal(err)
			}
			plain := ws.Logits().Clone()
			pass.RNG = rand.New(rand.NewPCG(1, 1))
			cache := runCached(t, ws, x, y, pass, nil, true)
			if !slices.Equal(ws.Logits().Data, plain.Data) {
				t.Error("caching every point changed the logits")
			}
			for _, p := range m.Points() {
				got, ok := cache.Get(p.Name)
				if !ok {
					t.Errorf("cache has no %s", p.Name)
					continue
				}
				if want := append([]int{batch}, p.Shape...); !slices.Equal(got.Shape, want) {
					t.Errorf("%s: shape %v, want %v", p.Name, got.Shape, want)
				}
				if act, ok := ws.Act(p.Name); !ok || !slices.Equal(act.Data, got.Data) {
					t.Errorf("%s: workspace activation differs from the cached one", p.Name)
				}
				g, ok := cache.Get(p.Name.Grad())
				if !ok {
					t.Errorf("cache has no gradient of %s", p.Name)
					continue
				}
				if wg, ok := ws.Grad(p.Name); !ok || !slices.Equal(wg.Data, g.Data) {
					t.Errorf("%s: workspace gradient differs from the cached one", p.Name)
				}
			}
			for _, p := range m.HookPoints() {
				base, ok := strings.CutSuffix(string(p), ".hook_resid_post")
				if !ok {
					continue
				}
				sum, _ := cache.Get(p)
				br, _ := cache.Get(hooks.Name(base + ".hook_branch"))
				sc, _ := cache.Get(hooks.Name(base + ".hook_shortcut"))
				out, _ := cache.Get(hooks.Name(base + ".hook_out"))
				for i := range sum.Data {
					if sum.Data[i] != br.Data[i]+sc.Data[i] || out.Data[i] != max(sum.Data[i], 0) {
						t.Fatalf("%s: resid_post %v ≠ branch %v + shortcut %v, or out %v ≠ ReLU", base, sum.Data[i], br.Data[i], sc.Data[i], out.Data[i])
					}
				}
				// The gradient reaching the branch and the shortcut is the
				// gradient at the sum.
				gs, _ := cache.Get(p.Grad())
				gb, _ := cache.Get(hooks.Name(base + ".hook_branch").Grad())
				gc, _ := cache.Get(hooks.Name(base + ".hook_shortcut").Grad())
				if !slices.Equal(gs.Data, gb.Data) || !slices.Equal(gs.Data, gc.Data) {
					t.Errorf("%s: branch and shortcut gradients differ from resid_post's", base)
				}
			}
		})
	}
}

// TestEditsAndPatching checks the edit primitive through the model:
// patching a whole activation from a clean run reproduces the clean logits
// exactly, zero-ablation zeroes exactly the chosen units, editing x̂ changes
// BatchNorm's output to γ·x̂ + β, and an edited dropout mask in evaluation
// ablates the units it zeroes.
func TestEditsAndPatching(t *testing.T) {
	m := mustNew(t, tinyConfigs()["cnn"])
	rng := rand.New(rand.NewPCG(11, 11))
	const batch = 3
	clean, y := randomBatch(m, rng, batch)
	corrupt, _ := randomBatch(m, rng, batch)
	ws := m.NewWorkspace(batch)
	cleanCache := runCached(t, ws, clean, y, Pass{}, nil, false)
	cleanLogits, _ := cleanCache.Get("fc.hook_out")

	// Activation patching at every point restores the clean logits.
	for _, p := range m.Points()[1:] {
		if strings.HasSuffix(string(p.Name), "hook_mask") {
			continue
		}
		act, _ := cleanCache.Get(p.Name)
		f, err := m.EditHook(p.Name, Edit{A: ones(p.Shape[0]), R: Cached(act)})
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.Forward(ctx, corrupt, Pass{}, hooks.NewSet().Add(p.Name, f)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ws.Logits().Data, cleanLogits.Data) {
			t.Errorf("patching %s from the clean run did not restore the clean logits", p.Name)
		}
	}

	// Zero-ablate unit 1 of conv2 at two pixels.
	s, _ := m.PointShape("conv2.hook_out")
	a := make([]float32, tensor.Numel(s))
	px := s[1] * s[2]
	a[1*px+0], a[1*px+5] = 1, 1
	f, err := m.EditHook("conv2.hook_out", Edit{A: a, R: Zero()})
	if err != nil {
		t.Fatal(err)
	}
	cache := runCached(t, ws, clean, y, Pass{}, hooks.NewSet().Add("conv2.hook_out", f), false)
	got, _ := cache.Get("conv2.hook_out")
	orig, _ := cleanCache.Get("conv2.hook_out")
	for b := range batch {
		for i := range tensor.Numel(s) {
			v, o := got.Data[b*len(a)+i], orig.Data[b*len(a)+i]
			if a[i] == 1 && v != 0 || a[i] == 0 && v != o {
				t.Fatalf("ablated conv2 at image %d index %d: %v (was %v, mask %v)", b, i, v, o, a[i])
			}
		}
	}

	// Editing x̂ makes BatchNorm's output γ·x̂' + β.
	f, err = m.EditHook("bn1.hook_normalized", Edit{A: UnitMask(3, 0), R: Constant(2)})
	if err != nil {
		t.Fatal(err)
	}
	cache = runCached(t, ws, clean, y, Pass{}, hooks.NewSet().Add("bn1.hook_normalized", f), false)
	out, _ := cache.Get("bn1.hook_out")
	gamma, _, _ := m.P.Get("bn1.weight")
	beta, _, _ := m.P.Get("bn1.bias")
	hw := 8 * 6
	for b := range batch {
		for i := range hw {
			if v, want := out.Data[b*3*hw+i], gamma[0]*2+beta[0]; v != want {
				t.Fatalf("bn1 output after x̂ := 2 on unit 0 = %v, want %v", v, want)
			}
		}
	}

	// In evaluation the dropout mask is all ones; zeroing a unit of it is
	// a zero-ablation of that unit at dropout's input.
	mask, _ := cleanCache.Get("dropout1.hook_mask")
	for _, v := range mask.Data {
		if v != 1 {
			t.Fatalf("evaluation dropout mask holds %v", v)
		}
	}
	fm, _ := m.EditHook("dropout1.hook_mask", Edit{A: UnitMask(4, 2), R: Zero()})
	fa, _ := m.EditHook("pool2.hook_out", Edit{A: UnitMask(4, 2), R: Zero()})
	if err := ws.Forward(ctx, clean, Pass{}, hooks.NewSet().Add("dropout1.hook_mask", fm)); err != nil {
		t.Fatal(err)
	}
	viaMask := ws.Logits().Clone()
	if err := ws.Forward(ctx, clean, Pass{}, hooks.NewSet().Add("pool2.hook_out", fa)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(viaMask.Data, ws.Logits().Data) {
		t.Error("zeroing a unit of the dropout mask differs from ablating it")
	}
}

func ones(n int) []float32 {
	a := make([]float32, n)
	for i := range a {
		a[i] = 1
	}
	return a
}

func TestEditReplacements(t *testing.T) {
	// One activation [batch 2, C 2, 1×2].
	act := func() *tensor.Tensor { return tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 1, 2) }
	shape := []int{2, 1, 2}
	tests := []struct {
		name string
		e    Edit
		want []float32
	}{
		{"zero unit 1", Edit{A: []float32{0, 1}, R: Zero()}, []float32{1, 2, 0, 0, 5, 6, 0, 0}},
		{"half-blend with a constant", Edit{A: []float32{0.5, 0}, R: Constant(11)}, []float32{6, 6.5, 3, 4, 8, 8.5, 7, 8}},
		{"batch mean", Edit{A: []float32{1, 1}, R: BatchMean()}, []float32{3.5, 3.5, 5.5, 5.5, 3.5, 3.5, 5.5, 5.5}},
		{"fixed per-pixel mean, one pixel", Edit{A: []float32{0, 1, 0, 0}, R: Mean([]float32{9, 8, 7, 6})}, []float32{1, 8, 3, 4, 5, 8, 7, 8}},
		{"one cached example broadcast", Edit{A: []float32{1, 0}, R: Cached(tensor.FromSlice([]float32{-1, -2, -3, -4}, 1, 2, 1, 2))}, []float32{-1, -2, 3, 4, -1, -2, 7, 8}},
		{"cached batch", Edit{A: []float32{0, 1}, R: Cached(tensor.FromSlice([]float32{0, 0, 10, 20, 0, 0, 30, 40}, 2, 2, 1, 2))}, []float32{1, 2, 10, 20, 5, 6, 30, 40}},
	}
	for _, tt := range tests {
		f, err := NewEdit(shape, tt.e)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		a := act()
		if err := hooks.NewSet().Add("x", f).RunForward("x", a); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(a.Data, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, a.Data, tt.want)
		}
	}
	// Means of an activation: per unit and per pixel.
	if got := Means(act(), false); !slices.Equal(got, []float32{3.5, 5.5}) {
		t.Errorf("Means per unit = %v", got)
	}
	if got := Means(act(), true); !slices.Equal(got, []float32{3, 4, 5, 6}) {
		t.Errorf("Means per pixel = %v", got)
	}

	for _, bad := range []Edit{
		{A: []float32{1}, R: Zero()},
		{A: []float32{1, float32(math.NaN())}, R: Zero()},
		{A: []float32{1, 1}, R: Mean([]float32{1, 2, 3})},
		{A: []float32{1, 1}, R: Cached(tensor.New(3))},
		{A: []float32{1, 1}, R: Constant(float32(math.Inf(1)))},
	} {
		if _, err := NewEdit(shape, bad); err == nil {
			t.Errorf("NewEdit accepted %+v", bad)
		}
	}
	// A cached batch of the wrong size is an error from the hook set.
	f, _ := NewEdit(shape, Edit{A: []float32{1, 1}, R: Cached(tensor.New(3, 2, 1, 2))})
	if err := hooks.NewSet().Add("x", f).RunForward("x", act()); err == nil {
		t.Error("a cached batch of 3 patched into a batch of 2 without error")
	}
	m := mustNew(t, Classifier())
	if _, err := m.EditHook("conv9.hook_out", Edit{A: []float32{1}}); err == nil {
		t.Error("EditHook accepted an unknown point")
	}
}

// TestBackwardHooks checks that backward hooks see and steer gradients: a
// hook zeroing the gradient at a block's output leaves every parameter below
// it without gradient, and the input gradient is computed only on request.
func TestBackwardHooks(t *testing.T) {
	m := mustNew(t, tinyConfigs()["resnet-basic"])
	rng := rand.New(rand.NewPCG(4, 4))
	x, y := randomBatch(m, rng, 2)
	ws := m.NewWorkspace(2)
	if err := ws.Forward(ctx, x, Pass{Train: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Loss(y); err != nil {
		t.Fatal(err)
	}
	g := m.NewGrads()
	zero := hooks.NewSet().AddBackward("layer1.1.hook_out", func(d *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		return tensor.New(d.Shape...)
	})
	if err := ws.Backward(g, zero); err != nil {
		t.Fatal(err)
	}
	for _, p := range g.List() {
		below := strings.HasPrefix(p.Name, "conv1.") || strings.HasPrefix(p.Name, "bn1.") || strings.HasPrefix(p.Name, "layer1.")
		nonzero := slices.ContainsFunc(p.Data, func(v float32) bool { return v != 0 })
		if below && nonzero {
			t.Errorf("%s has a gradient through a zeroed layer1.1.hook_out gradient", p.Name)
		}
		if !below && !nonzero && !strings.HasSuffix(p.Name, "running_var") {
			t.Errorf("%s above the hook has no gradient", p.Name)
		}
	}
	if _, ok := ws.Grad(InputPoint); !ok {
		t.Error("no input gradient buffer after Backward")
	}

	// Cutting the identity shortcut, forward and backward: the block sums
	// the branch with zeros, the shortcut's gradient reads zero, and the
	// block's input (which the branch's backward pass reads) is untouched.
	const sc = "layer1.1.hook_shortcut"
	cut := func(d *tensor.Tensor, _ hooks.Name) *tensor.Tensor { return tensor.New(d.Shape...) }
	hs := hooks.NewSet().Add(sc, cut).AddBackward(sc, cut)
	capture, cache := hooks.Capture(hooks.Names("layer1.0.hook_out", "layer1.1.hook_branch", "layer1.1.hook_resid_post"))
	hs = hooks.Merge(hs, capture)
	if err := ws.Forward(ctx, x, Pass{Train: true}, hs); err != nil {
		t.Fatal(err)
	}
	ws.Loss(y)
	if err := ws.Backward(m.NewGrads(), hs); err != nil {
		t.Fatal(err)
	}
	in, _ := cache.Get("layer1.0.hook_out")
	br, _ := cache.Get("layer1.1.hook_branch")
	sum, _ := cache.Get("layer1.1.hook_resid_post")
	if !slices.Equal(br.Data, sum.Data) {
		t.Error("with the shortcut cut, resid_post differs from the branch")
	}
	if act, _ := ws.Act("layer1.0.hook_out"); !slices.Equal(act.Data, in.Data) {
		t.Error("cutting the identity shortcut edited the block's input")
	}
	if g, ok := ws.Grad(sc); !ok || slices.ContainsFunc(g.Data, func(v float32) bool { return v != 0 }) {
		t.Error("the cut shortcut's gradient is not zero")
	}
	if g, _ := ws.Grad("layer1.1.hook_resid_post"); !slices.ContainsFunc(g.Data, func(v float32) bool { return v != 0 }) {
		t.Error("resid_post has no gradient")
	}
}
