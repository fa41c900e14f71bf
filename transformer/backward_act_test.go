package transformer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/workers"
)

// TestBackwardActivationsMatches holds BackwardActivations to BackwardFrom:
// every activation gradient (as Grad returns it, and as backward hooks see
// it, which takes the attention's step-by-step and per-head result paths)
// equal within 1e-6 relative to the gradient's scale, on every variant
// the backward pass supports (attention-only, LayerNorm and RMSNorm MLP
// models, tied, rotary, grouped-query, gated, parallel), with and without
// a runner (the reference has none), for a dense logits gradient and for one that reads the last
// position of each sequence only (the unembedding's gathered rows).
func TestBackwardActivationsMatches(t *testing.T) {
	pool := workers.New(2)
	defer pool.Close()
	cfgs := variants()
	delete(cfgs, "shortformer_ln") // checked below, apart: it reads W_pos in every block
	for name, c := range llamaVariants() {
		cfgs[name] = c
	}
	// Large enough for the split norm, activation and attention backward
	// (parMinElems) and a vocabulary whose rows dominate.
	cfgs["wide"] = Config{NLayers: 2, DModel: 128, NHeads: 4, DHead: 32, DMLP: 512, DVocab: 3000, NCtx: 64, NormalizationType: NormLN, ActFn: ActGELUNew, Seed: 1}
	cfgs["wide_rotary_gqa_tied"] = Config{NLayers: 2, DModel: 128, NHeads: 4, DHead: 32, NKeyValueHeads: 2, DMLP: 512, DVocab: 3000, NCtx: 64,
		NormalizationType: NormRMS, PositionalEmbeddingType: PosRotary, RotaryDim: 32, RotaryBase: 500, GatedMLP: true, ActFn: ActSiLU, TiedEmbeddings: true, Seed: 1}
	cfgs["shortformer_ln"] = variants()["shortformer_ln"]
	for name, c := range cfgs {
		m, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		randomize(m, 5)
		const B = 8
		pos := min(48, m.Cfg.NCtx)
		rng := rand.New(rand.NewPCG(4, 5))
		toks := make([]int32, B*pos)
		for i := range toks {
			toks[i] = int32(rng.IntN(min(m.Cfg.DVocab, m.Cfg.DVocabOut)))
		}
		V := m.Cfg.DVocabOut
		dense := make([]float32, B*pos*V)
		for i := range dense {
			dense[i] = float32(rng.NormFloat64())
		}
		last := make([]float32, len(dense))
		for b := range B {
			r := b*pos + pos - 1
			copy(last[r*V:(r+1)*V], dense[r*V:(r+1)*V])
		}
		for _, dl := range []struct {
			what string
			g    []float32
		}{{"dense", dense}, {"last", last}} {
			for _, runner := range []bool{false, true} {
				for _, hooked := range []bool{false, true} {
					what := fmt.Sprintf("%s/%s/runner=%v/hooks=%v", name, dl.what, runner, hooked)
					checkBackwardActivations(t, what, m, toks, B, pos, dl.g, runner, hooked, pool)
				}
			}
		}
	}
}

func checkBackwardActivations(t *testing.T, what string, m *Model, toks []int32, B, pos int, dl []float32, runner, hooked bool, pool *workers.Pool) {
	t.Helper()
	type result struct {
		ws    *Workspace
		cache *hooks.Cache
	}
	// The reference is BackwardFrom on the calling goroutine alone.
	run := func(full bool) result {
		o := WorkspaceOptions{}
		if runner && !full {
			o.Runner = pool
		}
		ws := m.NewWorkspaceWith(B, pos, o)
		var hs *hooks.Set
		var cache *hooks.Cache
		if hooked {
			hs, cache = hooks.CaptureWithGrads(nil)
		}
		if err := ws.Forward(context.Background(), slices.Clone(toks), hs); err != nil {
			t.Fatal(err)
		}
		if full {
			if err := ws.BackwardFrom(dl, m.NewGrads(), hs); err != nil {
				t.Fatal(err)
			}
		} else {
			before := slices.Clone(m.P.Data())
			if err := ws.BackwardActivations(dl, hs); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(before, m.P.Data()) {
				t.Fatalf("%s: BackwardActivations changed the parameters", what)
			}
		}
		return result{ws, cache}
	}
	full, act := run(true), run(false)
	compared := 0
	compare := func(n hooks.Name, a, b []float32) {
		compared++
		if len(a) != len(b) {
			t.Errorf("%s: %s: %d values against %d", what, n, len(b), len(a))
			return
		}
		var scale float64
		for _, v := range a {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i := range a {
			if d := math.Abs(float64(a[i]) - float64(b[i])); d > 1e-6*max(scale, 1e-30) {
				t.Errorf("%s: %s[%d] = %g, BackwardFrom's %g (scale %g)", what, n, i, b[i], a[i], scale)
				return
			}
		}
	}
	if hooked {
		for _, n := range full.cache.Names() {
			if !n.IsGrad() {
				continue
			}
			b, ok := act.cache.Get(n)
			if !ok {
				t.Errorf("%s: no %s in the activation-only pass", what, n)
				continue
			}
			a, _ := full.cache.Get(n)
			compare(n, a.Data, b.Data)
		}
	}
	for _, n := range gradNames(m.Cfg) {
		a, okA := full.ws.Grad(n)
		b, okB := act.ws.Grad(n)
		if okA != okB {
			t.Errorf("%s: Grad(%s) present %v in the full pass, %v in the activation-only one", what, n, okA, okB)
			continue
		}
		if okA {
			compare(n, a.Data, b.Data)
		}
	}
	if compared < 3*m.Cfg.NLayers {
		t.Errorf("%s: only %d gradients compared", what, compared)
	}
}

// gradNames lists the hook points whose gradients backward forms.
func gradNames(c Config) []hooks.Name {
	names := []hooks.Name{hooks.Embed(), hooks.PosEmbed(), hooks.LNFinalNormalized()}
	for l := range c.NLayers {
		names = append(names, hooks.ResidPre(l), hooks.ResidMid(l), hooks.ResidPost(l), hooks.LN1Normalized(l), hooks.LN2Normalized(l),
			hooks.Q(l), hooks.K(l), hooks.V(l), hooks.RotQ(l), hooks.RotK(l), hooks.Z(l), hooks.AttnOut(l),
			hooks.MLPPre(l), hooks.MLPPreLinear(l), hooks.MLPPost(l), hooks.MLPOut(l))
	}
	return names
}
