package circuits

import (
	"context"
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// ErrHeadIndex is returned (wrapped) when a layer, head or token index
// given to a Weights method is out of range, or when a composition circuit
// is asked for a writer that is not in an earlier layer than its reader.
var ErrHeadIndex = errors.New("circuits: index out of range")

// Weights are the matrices of a transformer that its circuits are made of,
// in float64 and TransformerLens layout (row vectors on the left):
//
//	heads[l][h]  W_Q, W_K, W_V [d_model, d_head], W_O [d_head, d_model]
//	             (transformer.HeadWeights, in float64; Dims counts them)
//	WE           W_E   [d_vocab, d_model]
//	WPos         W_pos [n_ctx, d_model]
//	WU           W_U   [d_model, d_vocab_out]   (W_Eᵀ for tied embeddings)
//
// Biases and LayerNorm are not part of the circuits, as in TransformerLens;
// to include a LayerNorm's gain, fold it into the weights first
// (transformer.Model.FoldLayerNorm or ProcessWeights) and analyse the
// processed model. A Weights is not modified by its methods and is safe for
// concurrent use; the circuits its methods return alias its matrices.
type Weights struct {
	heads  [][]head64
	WE     *mat.Dense
	WPos   *mat.Dense // nil for rotary models, which have no W_pos
	WU     *mat.Dense
	rotary *rotation // rotary models only: how queries and keys turn with position
}

// heads64Of returns every head of m, [layer][head], converted to float64
// (exactly: float32 values are representable). The matrices are new; m is
// not retained.
func heads64Of(m *transformer.Model) [][]head64 {
	c := m.Cfg
	heads := make([][]head64, c.NLayers)
	for l := range heads {
		heads[l] = make([]head64, c.NHeads)
		for h := range heads[l] {
			hw := m.Head(l, h)
			heads[l][h] = head64{Q: dense64(hw.WQ), K: dense64(hw.WK), V: dense64(hw.WV), O: dense64(hw.WO)}
		}
	}
	return heads
}

// CompositionScores returns the composition scores of every pair of w's
// heads, as the function CompositionScores does for the same heads.
func (w *Weights) CompositionScores(ctx context.Context) (*Composition, error) {
	return compositionScores(ctx, w.heads)
}

// WeightsOf returns m's circuit matrices in float64: its heads (Heads), W_E,
// W_pos and W_U. The matrices are new; m is not retained.
func WeightsOf(m *transformer.Model) *Weights {
	c := m.Cfg
	w := &Weights{
		heads: heads64Of(m),
		WE:    dense64(tensor.FromSlice(m.P.WE, c.DVocab, c.DModel)),
		WU:    dense64(m.Unembed()),
	}
	if c.PositionalEmbeddingType == transformer.PosRotary {
		w.rotary = rotationOf(c)
	} else {
		w.WPos = dense64(tensor.FromSlice(m.P.WPos, c.NCtx, c.DModel))
	}
	return w
}

// dense64 copies a 2-D float32 tensor into a new float64 matrix.
func dense64(t *tensor.Tensor) *mat.Dense {
	d := make([]float64, len(t.Data))
	for i, v := range t.Data {
		d[i] = float64(v)
	}
	return mat.NewDense(t.Shape[0], t.Shape[1], d)
}

// Dims returns the number of layers and of heads per layer.
func (w *Weights) Dims() (nLayers, nHeads int) {
	if len(w.heads) == 0 {
		return 0, 0
	}
	return len(w.heads), len(w.heads[0])
}

// head returns head (l, h) or an error wrapping ErrHeadIndex.
func (w *Weights) head(l, h int) (head64, error) {
	nLayers, nHeads := w.Dims()
	if l < 0 || l >= nLayers || h < 0 || h >= nHeads {
		return head64{}, fmt.Errorf("circuits: head (%d, %d) of a model with %d layers of %d heads: %w", l, h, nLayers, nHeads, ErrHeadIndex)
	}
	return w.heads[l][h], nil
}

// QK returns head (l, h)'s QK circuit W_Q·W_Kᵀ [d_model, d_model], factored
// through d_head (head64.QK). The error wraps ErrHeadIndex if the head
// does not exist.
func (w *Weights) QK(l, h int) (*FactoredMatrix, error) {
	hw, err := w.head(l, h)
	if err != nil {
		return nil, err
	}
	return hw.QK()
}

// OV returns head (l, h)'s OV circuit W_V·W_O [d_model, d_model], factored
// through d_head (head64.OV). The error wraps ErrHeadIndex if the head
// does not exist.
func (w *Weights) OV(l, h int) (*FactoredMatrix, error) {
	hw, err := w.head(l, h)
	if err != nil {
		return nil, err
	}
	return hw.OV()
}

// FullQK returns head (l, h)'s full QK circuit W_E·W_Q·W_Kᵀ·W_Eᵀ [d_vocab,
// d_vocab] (paper: W_Eᵀ·W_QK·W_E), factored as (W_E·W_Q)·(W_E·W_K)ᵀ through
// d_head. Entry (i, j) is the attention score, before the 1/√d_head scale
// and the softmax, of a query at token i for a key at token j, counting the
// token embeddings only. The error wraps ErrHeadIndex if the head does not
// exist.
func (w *Weights) FullQK(l, h int) (*FactoredMatrix, error) {
	return w.bilinearQK(l, h, w.WE)
}

// PosQK returns head (l, h)'s positional QK circuit W_pos·W_Q·W_Kᵀ·W_posᵀ
// [n_ctx, n_ctx], factored through d_head: entry (i, j) is the score of
// query position i for key position j from the positional embeddings alone.
// A previous-token head shows a large sub-diagonal (j = i−1). The error
// wraps ErrHeadIndex if the head does not exist; a rotary model has no
// W_pos, and its positional circuit is QKAt's dependence on the offset.
func (w *Weights) PosQK(l, h int) (*FactoredMatrix, error) {
	if w.WPos == nil {
		return nil, errRotaryPos
	}
	return w.bilinearQK(l, h, w.WPos)
}

// bilinearQK returns (x·W_Q)·(x·W_K)ᵀ for x [n, d_model].
func (w *Weights) bilinearQK(l, h int, x *mat.Dense) (*FactoredMatrix, error) {
	hw, err := w.head(l, h)
	if err != nil {
		return nil, err
	}
	var xq, xk mat.Dense
	xq.Mul(x, hw.Q) // [n, d_head]
	xk.Mul(x, hw.K) // [n, d_head]
	var kt mat.Dense
	kt.CloneFrom(xk.T()) // [d_head, n]
	return factored(&xq, &kt), nil
}

// FullOV returns head (l, h)'s full OV circuit W_E·W_V·W_O·W_U [d_vocab,
// d_vocab_out] (paper: W_U·W_OV·W_E, transposed), factored through d_head
// (see the package function FullOV). Row t is what attending to token t adds
// to the logits. The error wraps ErrHeadIndex if the head does not exist.
func (w *Weights) FullOV(l, h int) (*FactoredMatrix, error) {
	hw, err := w.head(l, h)
	if err != nil {
		return nil, err
	}
	return FullOV(w.WE, hw.V, hw.O, w.WU)
}

// KComposition returns the K-composition circuit of writer head (l1, h1)
// and reader head (l2, h2), l1 < l2, at token level:
//
//	W_E·QK₂·OV₁ᵀ·W_Eᵀ = W_E·W_Q₂·W_K₂ᵀ·W_O₁ᵀ·W_V₁ᵀ·W_Eᵀ   [d_vocab, d_vocab]
//
// the paper's term W_Eᵀ·W_QK^{h₂}·W_OV^{h₁}·W_E of the two-layer QK circuit
// (Elhage et al. 2021, "Two-Layer Attention Only Transformers"), which in
// our row-vector convention is this matrix. Entry (i, j) is the score,
// before scaling and softmax, that a query at token i gives a key position
// into which head 1 has moved token j (head 1 attending fully to a j): the
// key side reads y·OV₁ in place of y. For an induction head reading a
// previous-token head, i = j means "the token before this key was my token"
// and the diagonal is large and positive (EigenPositivity near 1).
//
// It is factored through d_head as A = W_E·W_Q₂ [d_vocab, d_head] and
// B = (W_E·W_V₁·(W_O₁·W_K₂))ᵀ [d_head, d_vocab]. The error wraps
// ErrHeadIndex if either head does not exist or l1 >= l2.
func (w *Weights) KComposition(l1, h1, l2, h2 int) (*FactoredMatrix, error) {
	writer, reader, err := w.pair(l1, h1, l2, h2)
	if err != nil {
		return nil, err
	}
	var a, ok, evk mat.Dense
	a.Mul(w.WE, reader.Q)      // [d_vocab, d_head]
	ok.Mul(writer.O, reader.K) // [d_head₁, d_head₂]
	var ev mat.Dense
	ev.Mul(w.WE, writer.V) // [d_vocab, d_head₁]
	evk.Mul(&ev, &ok)      // [d_vocab, d_head₂]
	var b mat.Dense
	b.CloneFrom(evk.T()) // [d_head₂, d_vocab]
	return factored(&a, &b), nil
}

// KCompositionPositivity returns the eigenvalue positivity Σλ/Σ|λ| of the
// K-composition circuit of writer (l1, h1) and reader (l2, h2) (see
// KComposition and EigenPositivity), computed without any vocabulary-sized
// matrix: the circuit's non-zero eigenvalues are those of the d_head×d_head
// matrix (W_O₁·W_K₂)ᵀ·W_V₁ᵀ·(W_Eᵀ·W_E)·W_Q₂. Near 1, head 2 attends to
// positions where head 1 found the query's own token: the induction
// mechanism. The error wraps ErrHeadIndex if either head does not exist or
// l1 >= l2, and ErrNoConvergence if LAPACK fails.
func (w *Weights) KCompositionPositivity(l1, h1, l2, h2 int) (float64, error) {
	writer, reader, err := w.pair(l1, h1, l2, h2)
	if err != nil {
		return 0, err
	}
	var gram mat.Dense
	gram.Mul(w.WE.T(), w.WE) // [d_model, d_model]
	return kCompPositivity(&gram, writer, reader)
}

// kCompPositivity is KCompositionPositivity given gram = W_Eᵀ·W_E.
func kCompPositivity(gram *mat.Dense, writer, reader head64) (float64, error) {
	var ok, gq, vgq mat.Dense
	ok.Mul(writer.O, reader.K) // [d_head₁, d_head₂]
	gq.Mul(gram, reader.Q)     // [d_model, d_head₂]
	vgq.Mul(writer.V.T(), &gq) // [d_head₁, d_head₂]
	// Eigenvalues of B·A = (O₁K₂)ᵀ·(V₁ᵀ·G·Q₂) equal those of the factored
	// matrix (O₁K₂)ᵀ · (V₁ᵀGQ₂) seen from the other side.
	return EigenPositivity(factored(mat.DenseCopyOf(ok.T()), &vgq))
}

// pair returns the writer and reader heads, checking l1 < l2.
func (w *Weights) pair(l1, h1, l2, h2 int) (writer, reader head64, err error) {
	if writer, err = w.head(l1, h1); err != nil {
		return writer, reader, err
	}
	if reader, err = w.head(l2, h2); err != nil {
		return writer, reader, err
	}
	if l1 >= l2 {
		return writer, reader, fmt.Errorf("circuits: composition of %s into %s: the writer must be in an earlier layer: %w",
			HeadLabel(l1, h1), HeadLabel(l2, h2), ErrHeadIndex)
	}
	return writer, reader, nil
}

// TopAttended returns the k key tokens that a query at token tok scores
// highest in head (l, h)'s full QK circuit (row tok of FullQK), best first,
// with their raw scores (before the 1/√d_head scale). It computes the one
// row as W_E·(W_K·(W_E[tok]·W_Q)ᵀ), O(d_model·d_vocab), forming neither the
// vocab×vocab matrix nor the circuit's factors. The error wraps
// ErrHeadIndex if the head or token does not exist.
func (w *Weights) TopAttended(l, h, tok, k int) ([]Ranked, error) {
	hw, err := w.head(l, h)
	if err != nil {
		return nil, err
	}
	if err := w.checkToken(tok); err != nil {
		return nil, err
	}
	var q, key, row mat.VecDense
	q.MulVec(hw.Q.T(), w.WE.RowView(tok)) // [d_head]
	key.MulVec(hw.K, &q)                  // [d_model]
	row.MulVec(w.WE, &key)                // [d_vocab]
	return TopK(row.RawVector().Data, k), nil
}

// TopBoosted returns the k output tokens whose logits head (l, h) raises
// most when it attends to token tok (row tok of FullOV), best first, with
// the logit increments; a copying head lists tok itself first. It computes
// the one row as ((W_E[tok]·W_V)·W_O)·W_U, O(d_model·d_vocab_out), forming
// neither the vocab×vocab matrix nor the circuit's factors. The error wraps
// ErrHeadIndex if the head or token does not exist.
func (w *Weights) TopBoosted(l, h, tok, k int) ([]Ranked, error) {
	hw, err := w.head(l, h)
	if err != nil {
		return nil, err
	}
	if err := w.checkToken(tok); err != nil {
		return nil, err
	}
	var v, out, row mat.VecDense
	v.MulVec(hw.V.T(), w.WE.RowView(tok)) // [d_head]
	out.MulVec(hw.O.T(), &v)              // [d_model]
	row.MulVec(w.WU.T(), &out)            // [d_vocab_out]
	return TopK(row.RawVector().Data, k), nil
}

// checkToken returns an error wrapping ErrHeadIndex unless tok is a row of
// W_E.
func (w *Weights) checkToken(tok int) error {
	if n, _ := w.WE.Dims(); tok < 0 || tok >= n {
		return fmt.Errorf("circuits: token %d of a vocabulary of %d: %w", tok, n, ErrHeadIndex)
	}
	return nil
}
