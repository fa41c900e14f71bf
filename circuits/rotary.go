package circuits

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/transformer"
)

// errRotaryPos is PosQK's error for a rotary model.
var errRotaryPos = errors.New("circuits: a rotary model has no W_pos: position enters the QK circuit as a rotation by the offset between query and key (QKAt, FullQKAt)")

// rotation is how a rotary model turns each head's queries and keys with
// position: dimension pairs (a[k], b[k]) of a head's d_head coordinates,
// turned by the angle p·theta[k] at position p; coordinates in no pair are
// left alone. The pairing is the model's: rotate-half pairs k with
// k + rotary_dim/2 (Hugging Face, GPT-NeoX).
type rotation struct {
	a, b  []int
	theta []float64
}

// rotationOf returns the rotation of rotary config c.
func rotationOf(c transformer.Config) *rotation {
	half := c.RotaryDim / 2
	r := &rotation{a: make([]int, half), b: make([]int, half), theta: make([]float64, half)}
	for k := range half {
		r.a[k], r.b[k] = k, k+half
		r.theta[k] = math.Pow(c.RotaryBase, -2*float64(k)/float64(c.RotaryDim))
	}
	return r
}

// turn returns x·R(delta) for x [n, d_head]: in each pair, with angle
// φ = delta·θ, (x_a, x_b) ↦ (x_a·cos φ − x_b·sin φ, x_b·cos φ + x_a·sin φ),
// the rotation a query at position delta gets.
func (r *rotation) turn(x *mat.Dense, delta int) *mat.Dense {
	n, _ := x.Dims()
	out := mat.DenseCopyOf(x)
	for k := range r.a {
		s, c := math.Sincos(float64(delta) * r.theta[k])
		for i := range n {
			xa, xb := x.At(i, r.a[k]), x.At(i, r.b[k])
			out.Set(i, r.a[k], xa*c-xb*s)
			out.Set(i, r.b[k], xb*c+xa*s)
		}
	}
	return out
}

// QKAt returns head (l, h)'s QK circuit for a query delta positions after
// its key, W_Q·R(delta)·W_Kᵀ [d_model, d_model], factored through d_head,
// for a rotary model. Rotary embeddings turn the query at position i by
// R(i) and the key at position j by R(j); rotations in the same planes
// compose, so the score of residual x at i for residual y at j is
// x·W_Q·R(i)·R(j)ᵀ·W_Kᵀ·yᵀ = x·QKAt(i−j)·yᵀ: it depends on the offset
// i − j only, not on where the pair sits. QKAt(0) is QK; delta is the
// query position minus the key position, at least 0 for causal attention.
// The 1/√d_head scale, biases and normalization are left out, as in QK.
// A model without rotary embeddings is an error (its positions enter
// through W_pos: PosQK), as is a missing head (ErrHeadIndex).
func (w *Weights) QKAt(l, h, delta int) (*FactoredMatrix, error) {
	hw, err := w.rotaryHead(l, h, delta)
	if err != nil {
		return nil, err
	}
	var kt mat.Dense
	kt.CloneFrom(hw.K.T())
	return factored(w.rotary.turn(hw.Q, delta), &kt), nil
}

// FullQKAt returns head (l, h)'s full QK circuit at offset delta,
// W_E·QKAt(delta)·W_Eᵀ [d_vocab, d_vocab], factored through d_head: entry
// (i, j) is the score of a query at token i for a key at token j delta
// positions earlier, counting token embeddings only. Errors as QKAt.
func (w *Weights) FullQKAt(l, h, delta int) (*FactoredMatrix, error) {
	hw, err := w.rotaryHead(l, h, delta)
	if err != nil {
		return nil, err
	}
	var xq, xk, kt mat.Dense
	xq.Mul(w.WE, hw.Q)
	xk.Mul(w.WE, hw.K)
	kt.CloneFrom(xk.T())
	return factored(w.rotary.turn(&xq, delta), &kt), nil
}

func (w *Weights) rotaryHead(l, h, delta int) (head64, error) {
	if w.rotary == nil {
		return head64{}, fmt.Errorf("circuits: QKAt is the QK circuit of a rotary model at an offset; this model's positions enter through W_pos (PosQK)")
	}
	if delta < 0 {
		return head64{}, fmt.Errorf("circuits: offset %d: a causal query is never before its key (want delta ≥ 0)", delta)
	}
	return w.head(l, h)
}
