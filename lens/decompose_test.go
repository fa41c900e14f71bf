package lens

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/transformer"
)

// decompTol bounds |Σ components − residual| / (1 + |residual|): the model
// adds the same float32 terms in another order (and, with hook_result
// captured, sums heads one by one), so the two differ by a few float32
// roundings of terms of size ~1.
const decompTol = 1e-5

// dlaTol bounds |Σ DLA + Const − reference| / (1 + |reference|): float32
// components, normalised in float32 by ApplyLN, dotted in float64.
const dlaTol = 1e-4

// residPoints lists every point Decompose accepts for config c.
func residPoints(c transformer.Config) []hooks.Name {
	var out []hooks.Name
	for l := range c.NLayers {
		out = append(out, hooks.ResidPre(l))
		if c.HasResidMid() {
			out = append(out, hooks.ResidMid(l))
		}
		out = append(out, hooks.ResidPost(l))
	}
	return out
}

func TestDecomposeSumsToResidual(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range variants() {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 13)
			toks := randTokens(rand.New(rand.NewPCG(6, 6)), 2, 5, m.Cfg.DVocab)
			for _, at := range residPoints(m.Cfg) {
				dc, err := Decompose(ctx, m, toks, at)
				if err != nil {
					t.Fatal(err)
				}
				sum := dc.Sum()
				var worst float64
				for i, v := range dc.Resid.Data {
					worst = max(worst, math.Abs(float64(sum.Data[i]-v))/(1+math.Abs(float64(v))))
				}
				if worst > decompTol {
					t.Errorf("%s: components sum to the residual within %.3g > %g", at, worst, decompTol)
				}
				if dc.Labels[len(dc.Labels)-1] != BiasLabel || dc.Stack.Shape[0] != len(dc.Labels) {
					t.Errorf("%s: labels %q for a stack of shape %v", at, dc.Labels, dc.Stack.Shape)
				}
			}
		})
	}
}

func TestDecomposeLabels(t *testing.T) {
	m := newModel(t, variants()["ln_gelu"], 1)
	toks := [][]int{{1, 2, 3}}
	for _, tc := range []struct {
		at   hooks.Name
		want []string
	}{
		{EmbedLabel, []string{"embed", "pos_embed", "bias"}},
		{hooks.ResidMid(0), []string{"embed", "pos_embed", "L0H0", "L0H1", "L0H2", "bias"}},
		{hooks.ResidPost(0), []string{"embed", "pos_embed", "L0H0", "L0H1", "L0H2", "0_mlp_out", "bias"}},
		{hooks.ResidPre(1), []string{"embed", "pos_embed", "L0H0", "L0H1", "L0H2", "0_mlp_out", "bias"}},
		{hooks.ResidMid(1), []string{"embed", "pos_embed", "L0H0", "L0H1", "L0H2", "0_mlp_out", "L1H0", "L1H1", "L1H2", "bias"}},
	} {
		dc, err := Decompose(context.Background(), m, toks, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(dc.Labels, tc.want) {
			t.Errorf("Decompose at %s: labels %q, want %q", tc.at, dc.Labels, tc.want)
		}
	}
	for _, at := range []hooks.Name{"blocks.2.hook_resid_post", "blocks.0.attn.hook_q", "hook_embed", "nonsense"} {
		if _, err := Decompose(context.Background(), m, toks, at); err == nil || !strings.Contains(err.Error(), "cannot decompose") {
			t.Errorf("Decompose at %q: error %v", at, err)
		}
	}
	ao := newModel(t, variants()["attn_only"], 1)
	if _, err := Decompose(context.Background(), ao, toks, hooks.ResidMid(0)); err == nil {
		t.Error("Decompose at resid_mid of an attention-only model succeeded")
	}
}

// TestDLASumsToLogit checks that the attributions plus Const reproduce, at
// every point, for a logit and for a logit difference:
//   - without normalisation: the logit lens's logit (difference) there;
//   - with normalisation: at the final residual, the model's own; at earlier
//     points, the linearisation: ln_final applied with the final scale.
func TestDLASumsToLogit(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range variants() {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 17)
			const batch, pos = 2, 5
			toks := randTokens(rand.New(rand.NewPCG(7, 7)), batch, pos, tokenVocab(m))
			answer, wrong := []int{3, 5}, []int{1}
			for _, at := range residPoints(m.Cfg) {
				dc, err := Decompose(ctx, m, toks, at)
				if err != nil {
					t.Fatal(err)
				}
				final := at == hooks.ResidPost(m.Cfg.NLayers-1)
				ref := linearisedLogits(m, dc) // [batch·pos, V]
				if !m.Cfg.HasNorm() || final {
					lens, err := m.Decode(dc.Resid)
					if err != nil {
						t.Fatal(err)
					}
					for i, v := range lens.Data {
						if math.Abs(float64(v)-ref[i]) > dlaTol*(1+math.Abs(ref[i])) {
							t.Fatalf("%s: the linearisation %v differs from the decoded logit %v: the reference itself is wrong", at, ref[i], v)
						}
					}
				}
				for _, w := range [][]int{nil, wrong} {
					a, err := dc.DLA(m, answer, w)
					if err != nil {
						t.Fatal(err)
					}
					V := m.Cfg.DVocabOut
					for b := range batch {
						for p := range pos {
							r := (b*pos + p) * V
							want := ref[r+answer[b]]
							if w != nil {
								want -= ref[r+w[0]]
							}
							if got := a.Total(b, p); math.Abs(got-want) > dlaTol*(1+math.Abs(want)) {
								t.Errorf("%s, wrong %v, [%d, %d]: Σ DLA + Const = %v, want %v", at, w, b, p, got, want)
							}
						}
					}
				}
			}
		})
	}
}

// linearisedLogits computes, in float64, the logits of dc's residual through
// ln_final with the final cached scale (and its own mean), [batch·pos, V].
func linearisedLogits(m *transformer.Model, dc *Decomposition) []float64 {
	c, p, d := m.Cfg, m.P, m.Cfg.DModel
	wu := m.Unembed()
	V := wu.Shape[1]
	rows := dc.Resid.Size() / d
	out := make([]float64, rows*V)
	h := make([]float64, d)
	for r := range rows {
		x := dc.Resid.Data[r*d : (r+1)*d]
		var mean float64
		if c.NormalizationType == transformer.NormLN || c.NormalizationType == transformer.NormLNPre {
			for _, v := range x {
				mean += float64(v)
			}
			mean /= float64(d)
		}
		for j, v := range x {
			h[j] = float64(v) - mean
			if c.HasNorm() {
				h[j] /= float64(dc.Scale.Data[r])
			}
			if p.LNFinalW != nil {
				h[j] *= float64(p.LNFinalW[j])
			}
			if p.LNFinalB != nil {
				h[j] += float64(p.LNFinalB[j])
			}
		}
		for v := range V {
			s := float64(p.BU[v])
			for j := range d {
				s += h[j] * float64(wu.Data[j*V+v])
			}
			out[r*V+v] = s
		}
	}
	return out
}

func TestApplyLNSumsToNormalized(t *testing.T) {
	for _, name := range []string{"ln_gelu", "rms_relu", "lnpre_gelu_new"} {
		m := newModel(t, variants()[name], 19)
		toks := randTokens(rand.New(rand.NewPCG(9, 9)), 2, 4, m.Cfg.DVocab)
		set, cache := hooks.Capture(hooks.Names(hooks.LNFinalNormalized()))
		if _, err := m.Run(context.Background(), toks, set); err != nil {
			t.Fatal(err)
		}
		want, _ := cache.Get(hooks.LNFinalNormalized())
		dc, err := Decompose(context.Background(), m, toks, hooks.ResidPost(m.Cfg.NLayers-1))
		if err != nil {
			t.Fatal(err)
		}
		normed := ApplyLN(m, dc.Stack, dc.Scale)
		n, d := dc.Resid.Size(), m.Cfg.DModel
		for i := range n {
			s := 0.0
			for c := range dc.Labels {
				s += float64(normed.Data[c*n+i])
			}
			if m.P.LNFinalB != nil {
				s += float64(m.P.LNFinalB[i%d])
			}
			if w := float64(want.Data[i]); math.Abs(s-w) > dlaTol*(1+math.Abs(w)) {
				t.Fatalf("%s: Σ ApplyLN(components) + b = %v at %d, ln_final.hook_normalized %v", name, s, i, w)
			}
		}
	}
}

func TestDLAErrors(t *testing.T) {
	m := newModel(t, variants()["vocab_out"], 1)
	dc, err := Decompose(context.Background(), m, [][]int{{1, 2}, {3, 4}}, hooks.ResidPost(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		answer, wrong []int
		want          string
	}{
		{[]int{7}, nil, "outside"},
		{[]int{1, 2, 3}, nil, "per sequence"},
		{nil, nil, "per sequence"},
		{[]int{1}, []int{-1}, "outside"},
	} {
		if _, err := dc.DLA(m, tc.answer, tc.wrong); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DLA(%v, %v): error %v, want %q", tc.answer, tc.wrong, err, tc.want)
		}
	}
}
