package transformer

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// RunToLayer runs the embeddings and blocks [0, stop) on tokens and returns
// the residual stream entering block stop, [batch, pos, d_model]
// (TransformerLens's stop_at_layer). stop = n_layers returns the final
// residual, before ln_final.
func (m *Model) RunToLayer(ctx context.Context, tokens [][]int, stop int, hs *hooks.Set) (*tensor.Tensor, error) {
	if stop < 0 || stop > m.Cfg.NLayers {
		return nil, fmt.Errorf("transformer: stop layer %d outside [0, %d]", stop, m.Cfg.NLayers)
	}
	flat, batch, pos, err := m.CheckTokens(tokens)
	if err != nil {
		return nil, err
	}
	ws := m.NewWorkspace(batch, pos)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	copy(ws.tokens, flat)
	if err := ws.forward(hs, 0, stop, true, false); err != nil {
		return nil, err
	}
	return ws.act.resid[stop].Clone(), nil
}

// RunFromLayer feeds resid, [batch, pos, d_model], into block start and runs
// the rest of the model, returning the logits (TransformerLens's
// start_at_layer). Positional embeddings are not added again (with the
// shortformer type they still enter every block's queries and keys).
func (m *Model) RunFromLayer(ctx context.Context, resid *tensor.Tensor, start int, hs *hooks.Set) (*tensor.Tensor, error) {
	if start < 0 || start > m.Cfg.NLayers {
		return nil, fmt.Errorf("transformer: start layer %d outside [0, %d]", start, m.Cfg.NLayers)
	}
	if len(resid.Shape) != 3 || resid.Shape[2] != m.Cfg.DModel || resid.Shape[0] < 1 || resid.Shape[1] < 1 || resid.Shape[1] > m.Cfg.NCtx {
		return nil, fmt.Errorf("transformer: residual of shape %v, want [batch, pos ≤ %d, %d]", resid.Shape, m.Cfg.NCtx, m.Cfg.DModel)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ws := m.NewWorkspace(resid.Shape[0], resid.Shape[1])
	copy(ws.act.resid[start].Data, resid.Data)
	if err := ws.forward(hs, start, m.Cfg.NLayers, false, true); err != nil {
		return nil, err
	}
	return ws.act.logits.Clone(), nil
}

// Decode applies ln_final, recomputed on resid itself, and the unembedding
// to a residual stream [batch, pos, d_model], returning logits [batch, pos,
// d_vocab_out]. This is the logit lens's decoder.
func (m *Model) Decode(resid *tensor.Tensor) (*tensor.Tensor, error) {
	return m.RunFromLayer(context.Background(), resid, m.Cfg.NLayers, nil)
}
