package sae

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// randomDictionary returns a ReLU dictionary with random weights and
// biases (about half its features active on any input).
func randomDictionary(t *testing.T, c Config, seed uint64) *SAE {
	t.Helper()
	s, err := New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range s.BEnc {
		s.BEnc[i] = float32(0.1 * rng.NormFloat64())
	}
	for i := range s.BDec {
		s.BDec[i] = float32(0.1 * rng.NormFloat64())
	}
	return s
}

// addAt returns a hook set adding alpha·v at position pos of hook name.
func addAt(name hooks.Name, pos int, alpha float32, v []float32) *hooks.Set {
	return hooks.NewSet().Add(name, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		d := a.Dim(-1)
		tensor.Axpy(alpha, v, a.Data[pos*d:(pos+1)*d])
		return nil
	})
}

func logitAt(t *testing.T, m *transformer.Model, seq []int, pos, tok int, set *hooks.Set) float64 {
	t.Helper()
	out, err := m.Run(context.Background(), [][]int{seq}, set)
	if err != nil {
		t.Fatal(err)
	}
	V := out.Dim(-1)
	return float64(out.Data[pos*V+tok])
}

// TestAttributeLogitExact: at the last residual stream of a model without
// normalisation the logit is linear in the activation, so removing
// feature j's term f_j·W_dec[j] at the position changes the logit by
// exactly minus its attribution, and the logit is the decomposition's
// total plus b_U. At an earlier hook of a LayerNorm model the
// attribution is the first-order change: central differences agree.
func TestAttributeLogitExact(t *testing.T) {
	ctx := context.Background()
	base := transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 20, NCtx: 12, ActFn: transformer.ActGELU}
	for _, tc := range []struct {
		norm, hook string
		exact      bool
	}{
		{transformer.NormNone, "blocks.1.hook_resid_post", true},
		{transformer.NormLN, "blocks.0.hook_resid_post", false},
	} {
		c := base
		c.NormalizationType = tc.norm
		m := transformertest.Random(t, c, 11)
		s := randomDictionary(t, Config{DIn: 16, DSAE: 40, Activation: ReLU, HookName: tc.hook}, 3)
		seq := transformertest.Tokens(rand.New(rand.NewPCG(5, 5)), 1, 10, c.DVocab)[0]
		const pos, tok = 7, 4
		at, err := s.AttributeLogit(ctx, m, seq, pos, tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(at.Features) < 5 {
			t.Fatalf("%s: %d active features", tc.hook, len(at.Features))
		}
		sum := at.Bias + at.Error
		for _, f := range at.Features {
			sum += f.Attribution
		}
		if math.Abs(sum-at.Total) > 1e-4 {
			t.Errorf("%s: features + bias + error = %g, total %g", tc.hook, sum, at.Total)
		}
		name := hooks.Name(tc.hook)
		clean := logitAt(t, m, seq, pos, tok, nil)
		if math.Abs(clean-at.Logit) > 1e-6 {
			t.Errorf("%s: logit %g, the model's %g", tc.hook, at.Logit, clean)
		}
		if tc.exact && math.Abs(at.Total+float64(m.P.BU[tok])-clean) > 1e-4 {
			t.Errorf("%s: total %g + b_U %g ≠ logit %g", tc.hook, at.Total, m.P.BU[tok], clean)
		}
		for _, f := range at.Features[:5] {
			row := s.WDec[f.Feature*16 : (f.Feature+1)*16]
			if tc.exact {
				got := logitAt(t, m, seq, pos, tok, addAt(name, pos, -float32(f.Act), row)) - clean
				if math.Abs(got+f.Attribution) > 1e-4 {
					t.Errorf("%s feature %d: ablation moved the logit by %g, attribution %g", tc.hook, f.Feature, got, f.Attribution)
				}
				continue
			}
			const eps = 0.02 // of the feature's term; float32 logits
			up := logitAt(t, m, seq, pos, tok, addAt(name, pos, float32(eps*f.Act), row))
			dn := logitAt(t, m, seq, pos, tok, addAt(name, pos, -float32(eps*f.Act), row))
			fd := (up - dn) / (2 * eps)
			if math.Abs(fd-f.Attribution) > 0.02*math.Abs(f.Attribution)+2e-3 {
				t.Errorf("%s feature %d: central difference %g, attribution %g", tc.hook, f.Feature, fd, f.Attribution)
			}
		}
	}
}

// TestTranscoderEdgesExact: with the downstream layer's attention output
// frozen, the residual path is the only one from the upstream
// transcoder's output to the downstream transcoder's input in a model
// without normalisation, so removing source feature i at the position
// changes target j's pre-activation by exactly minus attr(i → j).
func TestTranscoderEdgesExact(t *testing.T) {
	ctx := context.Background()
	c := transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 20, NCtx: 12,
		NormalizationType: transformer.NormNone, ActFn: transformer.ActGELU}
	m := transformertest.Random(t, c, 13)
	up := randomDictionary(t, Config{DIn: 16, DSAE: 24, Activation: ReLU, Transcoder: true,
		HookName: "blocks.0.hook_resid_mid", HookNameOut: "blocks.0.hook_mlp_out"}, 4)
	down := randomDictionary(t, Config{DIn: 16, DSAE: 24, Activation: ReLU, Transcoder: true,
		HookName: "blocks.1.hook_resid_mid", HookNameOut: "blocks.1.hook_mlp_out"}, 5)
	seq := transformertest.Tokens(rand.New(rand.NewPCG(6, 6)), 1, 9, c.DVocab)[0]
	const pos = 6
	edges, err := TranscoderEdges(ctx, m, up, down, seq, pos)
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) < 10 {
		t.Fatalf("%d edges", len(edges))
	}
	splice, err := up.Splice(m)
	if err != nil {
		t.Fatal(err)
	}
	// The spliced run's attention output at layer 1, to freeze.
	set, cache := hooks.Capture(hooks.Names(hooks.AttnOut(1)))
	if _, err := m.Run(ctx, [][]int{seq}, hooks.Merge(splice, set)); err != nil {
		t.Fatal(err)
	}
	attn, _ := cache.Get(hooks.AttnOut(1))
	freeze := hooks.NewSet().Add(hooks.AttnOut(1), func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor { copy(a.Data, attn.Data); return nil })
	pre := func(extra *hooks.Set) []float32 {
		cap, cache := hooks.Capture(hooks.Names(hooks.ResidMid(1)))
		if _, err := m.Run(ctx, [][]int{seq}, hooks.Merge(splice, extra, freeze, cap)); err != nil {
			t.Fatal(err)
		}
		x, _ := cache.Get(hooks.ResidMid(1))
		p := make([]float32, 24)
		xc := make([]float32, 16)
		down.PreActivations(p, xc, x.Data[pos*16:(pos+1)*16], 1)
		return p
	}
	clean := pre(nil)
	for _, e := range edges[:8] {
		row := up.WDec[e.Source*16 : (e.Source+1)*16]
		got := pre(addAt(hooks.MLPOut(0), pos, -float32(e.SourceAct), row))
		if d := float64(got[e.Target] - clean[e.Target]); math.Abs(d+e.Attribution) > 1e-4 {
			t.Errorf("edge %d → %d: removing the source moved the target's pre-activation by %g, attribution %g", e.Source, e.Target, d, e.Attribution)
		}
	}
	if _, err := TranscoderEdges(ctx, m, down, up, seq, pos); err == nil {
		t.Error("downstream-to-upstream edges accepted")
	}
}

// TestQKAttributionExact: in a model without normalisation, removing a
// transcoder feature's term at the query position changes the layer-1
// score only through the query, and at the key position only through the
// key, so each changes the score by exactly minus its attribution.
func TestQKAttributionExact(t *testing.T) {
	ctx := context.Background()
	c := transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 20, NCtx: 12,
		NormalizationType: transformer.NormNone, ActFn: transformer.ActGELU}
	m := transformertest.Random(t, c, 17)
	up := randomDictionary(t, Config{DIn: 16, DSAE: 24, Activation: ReLU, Transcoder: true,
		HookName: "blocks.0.hook_resid_mid", HookNameOut: "blocks.0.hook_mlp_out"}, 6)
	seq := transformertest.Tokens(rand.New(rand.NewPCG(7, 7)), 1, 10, c.DVocab)[0]
	const layer, head, q, k = 1, 1, 8, 3
	edges, err := QKAttribution(ctx, m, up, seq, layer, head, q, k)
	if err != nil {
		t.Fatal(err)
	}
	sides := map[string]int{}
	for _, e := range edges {
		sides[e.Side]++
	}
	if sides["query"] < 3 || sides["key"] < 3 {
		t.Fatalf("edges by side %v", sides)
	}
	// The model itself (no splice): the attribution reads its queries and
	// keys, and removing a term at one position moves one of them.
	score := func(extra *hooks.Set) float64 {
		cap, cache := hooks.Capture(hooks.Names(hooks.AttnScores(layer)))
		if _, err := m.Run(ctx, [][]int{seq}, hooks.Merge(extra, cap)); err != nil {
			t.Fatal(err)
		}
		s, _ := cache.Get(hooks.AttnScores(layer)) // [1, head, q, k]
		T := len(seq)
		return float64(s.Data[(head*T+q)*T+k])
	}
	clean := score(nil)
	for _, e := range edges[:8] {
		pos := q
		if e.Side == "key" {
			pos = k
		}
		got := score(addAt(hooks.MLPOut(0), pos, -float32(e.Act), up.WDec[e.Feature*16:(e.Feature+1)*16])) - clean
		if math.Abs(got+e.Attribution) > 1e-4 {
			t.Errorf("feature %d (%s side): removing it moved the score by %g, attribution %g", e.Feature, e.Side, got, e.Attribution)
		}
	}
	if _, err := QKAttribution(ctx, m, up, seq, 0, head, q, k); err == nil {
		t.Error("a head of the transcoder's own layer accepted")
	}
}
