package lens

import (
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// EmbedLabel is the label of the first point a lens reads: the residual
// stream entering block 0, token plus positional embedding (token embedding
// only for shortformer models), which is blocks.0.hook_resid_pre.
const EmbedLabel = "embed"

// Point is one place in the residual stream that a lens decodes.
type Point struct {
	// Label is EmbedLabel or the hook name of the residual,
	// "blocks.{l}.hook_resid_mid" or "blocks.{l}.hook_resid_post".
	Label string
	// Hook is the hook point holding the residual, [batch, pos, d_model]:
	// blocks.0.hook_resid_pre for EmbedLabel, else Label itself.
	Hook hooks.Name
}

// Points lists, in forward order, the residual-stream points a lens reads
// for a model of config c: EmbedLabel, then for each layer l
// blocks.{l}.hook_resid_mid (models with MLPs, unless attention and MLP
// run in parallel) and blocks.{l}.hook_resid_post. The last point is the final residual, which
// the model itself decodes.
func Points(c transformer.Config) []Point {
	ps := []Point{{Label: EmbedLabel, Hook: hooks.ResidPre(0)}}
	for l := 0; l < c.NLayers; l++ {
		if c.HasResidMid() {
			ps = append(ps, Point{Label: string(hooks.ResidMid(l)), Hook: hooks.ResidMid(l)})
		}
		ps = append(ps, Point{Label: string(hooks.ResidPost(l)), Hook: hooks.ResidPost(l)})
	}
	return ps
}

// Labels returns the labels of Points(c).
func Labels(c transformer.Config) []string {
	ps := Points(c)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Label
	}
	return out
}

// residViews returns, for each of Points(m.Cfg), the workspace's buffer
// holding that residual. The views stay valid (and are overwritten) across
// the workspace's forward passes.
func residViews(m *transformer.Model, ws *transformer.Workspace) []*tensor.Tensor {
	ps := Points(m.Cfg)
	out := make([]*tensor.Tensor, len(ps))
	for i, p := range ps {
		t, ok := ws.Act(p.Hook)
		if !ok {
			panic(tensor.ShapeError{Op: "lens.residViews", Msg: "workspace has no " + string(p.Hook)})
		}
		out[i] = t
	}
	return out
}
