package lens

import (
	"context"

	"github.com/mechinterp/workbench/transformer"
)

// Logit runs the logit lens (nostalgebraist 2020, "interpreting GPT: the
// logit lens") on a batch of equal-length token sequences: it runs m once
// and decodes the residual stream at every point of Points(m.Cfg) through
// ln_final, recomputed on that residual, and the unembedding, returning one
// Stats per point in the same order. At the last point (the final residual)
// the decoded logits are the model's own, bit for bit, so its KLToFinal is 0.
//
// Invalid tokens (ids outside the vocabulary, ragged or over-long sequences,
// sequences shorter than 2) are errors. It returns ctx's error if ctx is done
// before a point is decoded.
func Logit(ctx context.Context, m *transformer.Model, tokens [][]int, o Options) ([]Stats, error) {
	return evaluate(ctx, m, tokens, nil, o)
}
