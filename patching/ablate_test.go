package patching

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

func TestAblations(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["ln_gelu"]
	m := newModel(t, cfg, 71)
	toks, ref := pair(72, 3, 7, cfg.DVocab)
	ref = append(ref, randTokens(rand.New(rand.NewPCG(73, 73)), 2, 7, cfg.DVocab)...) // 5 reference sequences
	head := Site{Kind: HeadOut, Layer: 1, Head: 2}
	mlp := Site{Kind: MLPOut, Layer: 0}
	resid := Site{Kind: ResidPre, Layer: 1, Pos: At(4)}
	sites := []Site{head, mlp, resid}

	// What the ablated activations should be, from plain runs.
	names := []hooks.Name{head.hook(), mlp.hook(), resid.hook()}
	capRef, refCache := hooks.Capture(hooks.Names(names...))
	must(m.Run(ctx, ref, capRef))
	capRun, runCache := hooks.Capture(hooks.Names(names...))
	must(m.Run(ctx, toks, capRun))

	check := func(method string, abl *hooks.Set, want func(s Site, b int, ref *tensor.Tensor, off, n int) []float32) {
		t.Helper()
		hs, got := hooks.Capture(hooks.Names(names...))
		must(m.Run(ctx, toks, hooks.Merge(abl, hs))) // the capture sees the ablated values
		for _, s := range sites {
			g, _ := got.Get(s.hook())
			r, _ := refCache.Get(s.hook())
			if s == mlp { // upstream of the other sites: untouched elsewhere
				orig, _ := runCache.Get(s.hook())
				sel := make([]bool, g.Size())
				s.each(g.Shape, func(_, off, n int) {
					for i := off; i < off+n; i++ {
						sel[i] = true
					}
				})
				for i := range sel {
					if !sel[i] && g.Data[i] != orig.Data[i] {
						t.Fatalf("%s: %v changed outside the site at %d", method, s, i)
					}
				}
			}
			s.each(g.Shape, func(b, off, n int) {
				if w := want(s, b, r, off, n); !slices.Equal(g.Data[off:off+n], w) {
					t.Errorf("%s %v batch %d: got %v, want %v", method, s, b, g.Data[off:off+n], w)
				}
			})
		}
	}

	zero := must(ZeroAblation(m, sites...))
	check("zero", zero, func(_ Site, _ int, _ *tensor.Tensor, _, n int) []float32 { return make([]float32, n) })

	mean := must(MeanAblation(ctx, m, ref, sites...))
	check("mean", mean, func(s Site, b int, r *tensor.Tensor, off, n int) []float32 {
		per := r.Size() / r.Shape[0]
		o := off - b*per
		w := make([]float32, n)
		for i := range w {
			var sum float64
			for rb := 0; rb < r.Shape[0]; rb++ {
				sum += float64(r.Data[rb*per+o+i])
			}
			w[i] = float32(sum / float64(r.Shape[0]))
		}
		return w
	})

	rs := must(ResampleAblation(ctx, m, ref, rand.New(rand.NewPCG(74, 74)), sites...))
	perm := rand.New(rand.NewPCG(74, 74)).Perm(len(ref))
	check("resample", rs, func(s Site, b int, r *tensor.Tensor, off, n int) []float32 {
		per := r.Size() / r.Shape[0]
		o := off - b*per + perm[b%len(ref)]*per
		return r.Data[o : o+n]
	})
}

func TestAblationErrors(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["attn_only"]
	m := newModel(t, cfg, 81)
	toks, ref := pair(82, 2, 6, cfg.DVocab)
	for _, s := range []Site{{Kind: MLPOut}, {Kind: HeadOut, Head: 3}, {Kind: ResidPre, Layer: 2}, {Kind: ResidPre, Pos: At(cfg.NCtx)}} {
		if _, err := ZeroAblation(m, s); err == nil {
			t.Errorf("ZeroAblation(%v) accepted", s)
		}
	}
	if _, err := MeanAblation(ctx, m, [][]int{{1, 99}}, Site{Kind: HeadOut}); err == nil {
		t.Error("MeanAblation with an invalid reference accepted")
	}
	if _, err := ResampleAblation(ctx, m, ref, nil, Site{Kind: HeadOut}); err == nil {
		t.Error("ResampleAblation without a random source accepted")
	}
	// Runs that do not fit the ablation fail with an error, not a panic.
	zero := must(ZeroAblation(m, Site{Kind: ResidPre, Layer: 0, Pos: At(7)}))
	if _, err := m.Run(ctx, toks, zero); err == nil || !strings.Contains(err.Error(), "hook_resid_pre") {
		t.Errorf("zero ablation of position 7 in a 6-token run: %v", err)
	}
	mean := must(MeanAblation(ctx, m, ref, Site{Kind: Pattern, Layer: 1, Head: 0}))
	short := [][]int{toks[0][:5], toks[1][:5]}
	if _, err := m.Run(ctx, short, mean); err == nil || !strings.Contains(err.Error(), "hook_pattern") {
		t.Errorf("mean ablation from 6-token references in a 5-token run: %v", err)
	}
}
