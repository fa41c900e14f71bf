package patching

import (
	"context"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Attribute estimates the same sweep as Sweep by attribution patching
// (Nanda 2023, "Attribution Patching: Activation Patching At Industrial
// Scale"; Syed et al. 2023): the metric's change when the clean activation
// a_clean replaces the corrupted a_corr at a site is approximated to first
// order by
//
//	∂metric/∂a |_corrupted · (a_clean − a_corr)
//
// summed over the site's elements (all batch items, and every position
// unless opt.ByPos). One forward and one backward pass of the corrupted
// batch give the gradient at every site at once. The grid holds
// Corrupted + estimate, so it reads like Sweep's and compares with it by
// Compare. The estimate is exact when the metric is linear in the
// activation, as the logit difference is in the last block's outputs of a
// model without a final LayerNorm. opt.Workers is not used.
func (e *Experiment) Attribute(ctx context.Context, kind Kind, opt Options) (*Grid, error) {
	g, err := e.grid(kind, opt.ByPos)
	if err != nil {
		return nil, err
	}
	var hs *hooks.Set
	if kind == Pattern {
		// A backward hook on the patterns makes the model keep their gradient.
		pattern := Pattern.Hook(0).Kind()
		hs = hooks.NewSet().AddBackwardMatch(func(n hooks.Name) bool { return n.Kind() == pattern },
			func(*tensor.Tensor, hooks.Name) *tensor.Tensor { return nil })
	}
	ws := e.m.NewWorkspace(e.batch, e.pos)
	if err := ws.Forward(ctx, e.flatCorrupted, hs); err != nil {
		return nil, err
	}
	dlogits := make([]float32, ws.Logits().Size())
	e.metric.Grad(dlogits, ws.Logits())
	if err := ws.BackwardFrom(dlogits, e.m.NewGrads(), hs); err != nil {
		return nil, err
	}
	for i, s := range g.Sites {
		grad, ok := ws.Grad(s.hook())
		if !ok {
			panic("patching: no gradient at " + string(s.hook()))
		}
		g.Values[i] = e.corrupted + s.dot(grad, e.act(e.cleanActs, s.hook()), e.act(e.corruptActs, s.hook()))
	}
	return g, nil
}
