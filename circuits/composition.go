package circuits

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// head64 is one attention head's weights (transformer.HeadWeights) in
// float64, the form this package computes in, TransformerLens layout (row
// vectors on the left: q = x·W_Q). Its circuits are QK = W_Q·W_Kᵀ and
// OV = W_V·W_O, both [d_model, d_model] of rank ≤ d_head.
type head64 struct {
	Q, K, V *mat.Dense // W_Q, W_K, W_V [d_model, d_head]
	O       *mat.Dense // W_O [d_head, d_model]
}

// QK returns the head's QK circuit W_Q·W_Kᵀ [d_model, d_model], factored
// through d_head; the factors are Q itself and a transposed copy of K. The
// error wraps mat.ErrZeroLength if a matrix is missing and mat.ErrShape if
// their d_head differ.
func (w head64) QK() (*FactoredMatrix, error) {
	if w.K == nil || w.K.IsEmpty() {
		return nil, fmt.Errorf("circuits: QK: missing W_K: %w", mat.ErrZeroLength)
	}
	return NewFactoredMatrix(w.Q, mat.DenseCopyOf(w.K.T()))
}

// OV returns the head's OV circuit W_V·W_O [d_model, d_model], factored
// through d_head; the factors are V and O themselves. The error wraps
// mat.ErrZeroLength if a matrix is missing and mat.ErrShape if their d_head
// differ.
func (w head64) OV() (*FactoredMatrix, error) { return NewFactoredMatrix(w.V, w.O) }

// Composition holds the composition scores of every ordered pair of heads,
// each indexed [l1][h1][l2][h2]: writer head (l1, h1), reader head (l2, h2).
// Entries with l1 >= l2 are zero. All three arrays share one backing slice
// per mode; the JSON encoding is {"Q": …, "K": …, "V": …}.
type Composition struct {
	Q, K, V [][][][]float64
}

// newComposition allocates zeroed [nLayers][nHeads][nLayers][nHeads] arrays.
func newComposition(nLayers, nHeads int) *Composition {
	return &Composition{Q: grid4(nLayers, nHeads), K: grid4(nLayers, nHeads), V: grid4(nLayers, nHeads)}
}

func grid4(nLayers, nHeads int) [][][][]float64 {
	flat := make([]float64, nLayers*nHeads*nLayers*nHeads)
	g := make([][][][]float64, nLayers)
	for l1 := range g {
		g[l1] = make([][][]float64, nHeads)
		for h1 := range g[l1] {
			g[l1][h1] = make([][]float64, nLayers)
			for l2 := range g[l1][h1] {
				g[l1][h1][l2], flat = flat[:nHeads:nHeads], flat[nHeads:]
			}
		}
	}
	return g
}

// modes returns the three arrays in the order Q, K, V.
func (c *Composition) modes() [3][][][][]float64 { return [3][][][][]float64{c.Q, c.K, c.V} }

// Relative returns a new Composition with every score divided by baseline
// (for example Baseline.Mean or Baseline.Analytic, which are positive), so
// that 1 means "as composed as random heads of this shape" and 1.3 means 30%
// above chance.
func (c *Composition) Relative(baseline float64) *Composition {
	nLayers := len(c.Q)
	nHeads := 0
	if nLayers > 0 {
		nHeads = len(c.Q[0])
	}
	out := newComposition(nLayers, nHeads)
	src, dst := c.modes(), out.modes()
	for m := range src {
		for l1 := range nLayers {
			for h1 := range nHeads {
				for l2 := range nLayers {
					for h2 := range nHeads {
						dst[m][l1][h1][l2][h2] = src[m][l1][h1][l2][h2] / baseline
					}
				}
			}
		}
	}
	return out
}

// HeadLabel returns TransformerLens's label for head h of layer l: "L{l}H{h}".
func HeadLabel(l, h int) string { return fmt.Sprintf("L%dH%d", l, h) }

// HeadLabels returns the labels of every head, layer-major, like
// TransformerLens's all_head_labels.
func HeadLabels(nLayers, nHeads int) []string {
	labels := make([]string, 0, nLayers*nHeads)
	for l := range nLayers {
		for h := range nHeads {
			labels = append(labels, HeadLabel(l, h))
		}
	}
	return labels
}

// CompositionScore returns ‖L·R‖_F / (‖L‖_F·‖R‖_F), the composition score of
// Elhage et al. (2021) between a writer's matrix L (OV of the earlier head)
// and a reader's R (QK, QKᵀ or OV of the later head), as TransformerLens's
// utils.composition_scores for one pair. It lies in [0, 1]; it is 0 if
// either matrix is zero (TransformerLens gives NaN). The error wraps
// mat.ErrShape if L's columns do not match R's rows.
func CompositionScore(left, right *FactoredMatrix) (float64, error) {
	lr, err := left.MulFactored(right)
	if err != nil {
		return 0, fmt.Errorf("circuits: composition score: %w", err)
	}
	den := left.Norm() * right.Norm()
	if den == 0 {
		return 0, nil
	}
	return lr.Norm() / den, nil
}

// CompositionScores returns the Q-, K- and V-composition scores of every
// pair of heads of a model given as heads[layer][head], with
// TransformerLens's all_composition_scores semantics: for writer (l1, h1)
// and reader (l2, h2) with l1 < l2,
//
//	Q[l1][h1][l2][h2] = CompositionScore(OV₁, QK₂)
//	K[l1][h1][l2][h2] = CompositionScore(OV₁, QK₂ᵀ)
//	V[l1][h1][l2][h2] = CompositionScore(OV₁, OV₂)
//
// and every entry with l1 >= l2 is 0. A head whose OV or QK is zero scores 0
// (TransformerLens gives NaN).
//
// No d_model×d_model matrix is formed: each score is reduced to tall
// [d_model, d_head] factors and a blocked Gram-matrix contraction (see
// composition_fast.go), which runs on runtime.GOMAXPROCS(0) workers and
// gives the same bits whatever their number. A 12-layer, 12-head model with
// d_model 768 and d_head 64 takes well under a second on two cores and holds
// about 220 MB of factors while it runs. ctx is checked between blocks.
//
// It returns an error wrapping mat.ErrShape (or mat.ErrZeroLength for a
// missing matrix) if the heads are not all [d_model, d_head] / [d_head,
// d_model] with one d_model, d_head and number of heads per layer, and
// ctx.Err() if ctx is done.
func CompositionScores(ctx context.Context, heads [][]transformer.HeadWeights) (*Composition, error) {
	h64, err := toHeads64(heads)
	if err != nil {
		return nil, err
	}
	return compositionScores(ctx, h64)
}

// compositionScores is CompositionScores on heads already in float64.
func compositionScores(ctx context.Context, heads [][]head64) (*Composition, error) {
	dims, err := checkHeads(heads)
	if err != nil {
		return nil, err
	}
	return compositionScoresFast(ctx, heads, dims)
}

// toHeads64 converts heads[layer][head] to float64 (exactly: every float32
// is a float64). A missing matrix stays nil and one that is not 2-D is an
// error wrapping mat.ErrShape; checkHeads judges the rest.
func toHeads64(heads [][]transformer.HeadWeights) ([][]head64, error) {
	out := make([][]head64, len(heads))
	for l, layer := range heads {
		out[l] = make([]head64, len(layer))
		for h, w := range layer {
			var err error
			m := func(name string, t *tensor.Tensor) *mat.Dense {
				switch {
				case t == nil || len(t.Data) == 0:
					return nil
				case len(t.Shape) != 2:
					if err == nil {
						err = fmt.Errorf("circuits: %s: %s has shape %v, want a matrix: %w", HeadLabel(l, h), name, t.Shape, mat.ErrShape)
					}
					return nil
				}
				return dense64(t)
			}
			out[l][h] = head64{Q: m("W_Q", w.WQ), K: m("W_K", w.WK), V: m("W_V", w.WV), O: m("W_O", w.WO)}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// modelDims are the shapes checkHeads establishes.
type modelDims struct {
	nLayers, nHeads, dModel, dHead int
}

// checkHeads validates heads[layer][head] and returns its shapes.
func checkHeads(heads [][]head64) (modelDims, error) {
	if len(heads) == 0 || len(heads[0]) == 0 {
		return modelDims{}, fmt.Errorf("circuits: no heads: %w", mat.ErrZeroLength)
	}
	first := heads[0][0]
	if first.Q == nil || first.Q.IsEmpty() {
		return modelDims{}, fmt.Errorf("circuits: L0H0: missing W_Q: %w", mat.ErrZeroLength)
	}
	d := modelDims{nLayers: len(heads), nHeads: len(heads[0])}
	d.dModel, d.dHead = first.Q.Dims()
	for l, layer := range heads {
		if len(layer) != d.nHeads {
			return modelDims{}, fmt.Errorf("circuits: layer %d has %d heads, layer 0 has %d: %w", l, len(layer), d.nHeads, mat.ErrShape)
		}
		for h, w := range layer {
			for _, m := range []struct {
				name       string
				w          *mat.Dense
				rows, cols int
			}{
				{"W_Q", w.Q, d.dModel, d.dHead},
				{"W_K", w.K, d.dModel, d.dHead},
				{"W_V", w.V, d.dModel, d.dHead},
				{"W_O", w.O, d.dHead, d.dModel},
			} {
				if m.w == nil || m.w.IsEmpty() {
					return modelDims{}, fmt.Errorf("circuits: %s: missing %s: %w", HeadLabel(l, h), m.name, mat.ErrZeroLength)
				}
				if r, c := m.w.Dims(); r != m.rows || c != m.cols {
					return modelDims{}, fmt.Errorf("circuits: %s: %s is %s, want [%d, %d]: %w", HeadLabel(l, h), m.name, shape(m.w), m.rows, m.cols, mat.ErrShape)
				}
			}
		}
	}
	return d, nil
}
