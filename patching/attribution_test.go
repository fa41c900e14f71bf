package patching

import (
	"context"
	"math"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"gonum.org/v1/gonum/diff/fd"
)

// linearTol bounds |attribution − exact| / max(1, |exact|) where the metric
// is linear in the patched activation: both sides are float32 forward
// passes (the exact one) or float32 gradients times float32 differences
// summed in float64, so they agree to float32 rounding of values of order
// 1–10.
const linearTol = 1e-5

// derivTol bounds the relative error of the attribution against a central
// difference along the clean − corrupted direction (float32 runs; see
// metricGradTol).
const derivTol = 2e-3

func TestAttributionExactWhenLinear(t *testing.T) {
	ctx := context.Background()
	// Without LayerNorm the logits are linear in the last block's output
	// (resid_post), in what is added to it last (mlp_out; in attention-only
	// models attn_out and every head's output), and so is the logit
	// difference.
	for name, kinds := range map[string][]Kind{
		"attn_only": {ResidPost, AttnOut, HeadOut},
		"mlp_no_ln": {ResidPost, MLPOut},
	} {
		cfg := configs()[name]
		m := newModel(t, cfg, 31)
		clean, corrupted := pair(32, 4, 8, cfg.DVocab)
		e := must(New(ctx, m, clean, corrupted, someLogitDiff(clean, cfg.DVocab)))
		for _, kind := range kinds {
			for _, byPos := range []bool{false, true} {
				exact := must(e.Sweep(ctx, kind, Options{ByPos: byPos}))
				attr := must(e.Attribute(ctx, kind, Options{ByPos: byPos}))
				moved := 0.0
				for i, s := range exact.Sites {
					if s.Layer != cfg.NLayers-1 {
						continue
					}
					moved = math.Max(moved, math.Abs(exact.Values[i]-e.Corrupted()))
					if d := math.Abs(attr.Values[i] - exact.Values[i]); d > linearTol*math.Max(1, math.Abs(exact.Values[i])) {
						t.Errorf("%s %v: attribution %v, exact %v", name, s, attr.Values[i], exact.Values[i])
					}
				}
				if moved < 0.1 {
					t.Errorf("%s %s: the largest last-layer effect is %v: the test shows nothing", name, kind, moved)
				}
			}
		}
	}
}

func TestAttributionIsDirectionalDerivative(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range configs() {
		m := newModel(t, cfg, 41)
		clean, corrupted := pair(42, 2, 6, cfg.DVocab)
		metric := Prob{Answer: []int{3, 5}, Pos: Last}
		e := must(New(ctx, m, clean, corrupted, metric))
		for _, kind := range Kinds() {
			if kind == MLPOut && !cfg.HasMLP() {
				continue
			}
			attr := must(e.Attribute(ctx, kind, Options{ByPos: true}))
			for i, s := range attr.Sites {
				if i%5 != 0 { // a sample keeps the test fast
					continue
				}
				src := e.act(e.cleanActs, s.hook())
				f := func(alpha float64) float64 {
					// a = a_corr + α(a_clean − a_corr) at s.
					hs := hooks.NewSet().Add(s.hook(), func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
						s.each(a.Shape, func(_, off, n int) {
							for j := off; j < off+n; j++ {
								a.Data[j] += float32(alpha) * (src.Data[j] - a.Data[j])
							}
						})
						return nil
					})
					return metric.Value(must(m.Run(ctx, corrupted, hs)))
				}
				want := fd.Derivative(f, 0, &fd.Settings{Formula: fd.Central, Step: metricGradStep})
				got := attr.Values[i] - e.Corrupted()
				if math.Abs(got-want) > derivTol*math.Max(1e-2, math.Abs(want)) {
					t.Errorf("%s %v: attribution %v, central difference %v", name, s, got, want)
				}
			}
		}
	}
}

func TestCompare(t *testing.T) {
	a := &Grid{Corrupted: 1, Axes: [][]string{{"a", "b", "c", "d"}}, Values: []float64{1, 3, 2, 0}}
	b := &Grid{Corrupted: 1, Axes: [][]string{{"a", "b", "c", "d"}}, Values: []float64{1, 5, 3, -1}}
	ag := must(Compare(a, b, 2))
	// effects a: 0 2 1 -1; b: 0 4 2 -2 = 2·a → correlation 1.
	if math.Abs(ag.Pearson-1) > 1e-12 || ag.TopKOverlap != 1 || ag.TopK != 2 || ag.MaxAbsError != 2 {
		t.Errorf("Compare = %+v", ag)
	}
	c := &Grid{Corrupted: 1, Axes: [][]string{{"a", "b", "c", "d"}}, Values: []float64{4, 1, 1, 1}}
	ag = must(Compare(a, c, 1))
	if ag.TopKOverlap != 0 {
		t.Errorf("Compare top-1 of disjoint grids = %+v", ag)
	}
	if _, err := Compare(a, &Grid{Axes: [][]string{{"a"}}, Values: []float64{0}}, 1); err == nil {
		t.Error("Compare of different shapes succeeded")
	}
}
