package nn

import (
	"fmt"

	"github.com/mechinterp/workbench/tensor"
)

// GELUForward writes the exact GELU, y = x·Φ(x) with Φ the standard normal
// CDF computed through erf (Hendrycks & Gimpel 2016; TransformerLens's
// act_fn "gelu"), of x into y. x and y have the same length (any shape, e.g.
// mlp.hook_pre and hook_post [batch, pos, d_mlp]); y may alias x. It panics
// with a tensor.ShapeError if the lengths differ.
func GELUForward(y, x []float32) {
	sameLen("GELUForward", y, x)
	tensor.GELU(y, x)
}

// GELUBackward accumulates dx += dy·GELU'(x), GELU'(x) = Φ(x) + x·φ(x), given
// dy and the forward's input x, all of one length. dx nil is skipped; dx must
// not alias x. It panics with a tensor.ShapeError if the lengths differ.
func GELUBackward(dx, dy, x []float32) {
	chainRule("GELUBackward", dx, dy, x, tensor.GELUGrad)
}

// GELUTanhForward writes the tanh approximation of GELU used by GPT-2,
// y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (TransformerLens's act_fn
// "gelu_new"), of x into y. x and y have the same length; y may alias x. It
// panics with a tensor.ShapeError if the lengths differ.
func GELUTanhForward(y, x []float32) {
	sameLen("GELUTanhForward", y, x)
	tensor.GELUTanh(y, x)
}

// GELUTanhBackward accumulates dx += dy·f'(x) for the tanh approximation f of
// GELUTanhForward, given dy and the forward's input x, all of one length. dx
// nil is skipped; dx must not alias x. It panics with a tensor.ShapeError if
// the lengths differ.
func GELUTanhBackward(dx, dy, x []float32) {
	chainRule("GELUTanhBackward", dx, dy, x, tensor.GELUTanhGrad)
}

// ReLUForward writes y = max(x, 0) (act_fn "relu"). x and y have the same
// length; y may alias x. It panics with a tensor.ShapeError if the lengths
// differ.
func ReLUForward(y, x []float32) {
	sameLen("ReLUForward", y, x)
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// ReLUBackward accumulates dx += dy where the forward's input x > 0 (the
// derivative at 0 is taken as 0, as in PyTorch), given dy and x of one
// length. dx nil is skipped. It panics with a tensor.ShapeError if the
// lengths differ.
func ReLUBackward(dx, dy, x []float32) {
	if dx == nil {
		return
	}
	sameLen("ReLUBackward", dx, x, dy)
	for i, v := range x {
		if v > 0 {
			dx[i] += dy[i]
		}
	}
}

// chainRule accumulates dx += dy·grad(x) element-wise in float64, skipping a
// nil dx; it panics with a tensor.ShapeError if the lengths differ.
func chainRule(op string, dx, dy, x []float32, grad func(float64) float64) {
	if dx == nil {
		return
	}
	sameLen(op, dx, x, dy)
	for i, v := range x {
		dx[i] += float32(float64(dy[i]) * grad(float64(v)))
	}
}

// sameLen panics with a tensor.ShapeError unless every slice in others has
// the length of dst.
func sameLen(op string, dst []float32, others ...[]float32) {
	for _, o := range others {
		if len(o) != len(dst) {
			panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("lengths differ: %d and %d", len(dst), len(o))})
		}
	}
}
