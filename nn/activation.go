package nn

import (
	"fmt"
	"math"

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
//
// It computes the same function in its logistic form, 0.5·(1 + tanh(u)) =
// σ(2u): one exp instead of a tanh (about 2.5× faster than the reference
// tensor.GELUTanh it is tested against) and no cancellation in the negative
// tail, where 1 + tanh(u) loses its digits.
func GELUTanhForward(y, x []float32) {
	sameLen("GELUTanhForward", y, x)
	for i, v := range x {
		f := float64(v)
		y[i] = float32(f * geluTanhSigmoid(f))
	}
}

// Constants of GPT-2's GELU approximation: u(x) = √(2/π)·(x + 0.044715·x³).
const (
	geluTanhK = 0.7978845608028654 // √(2/π)
	geluTanhC = 0.044715
)

// geluTanhSigmoid returns σ(2u(x)) = 0.5·(1 + tanh(u(x))). For very negative x,
// exp overflows to +Inf and the result is 0, as it should be.
func geluTanhSigmoid(x float64) float64 {
	return 1 / (1 + math.Exp(-2*geluTanhK*(x+geluTanhC*x*x*x)))
}

// geluTanhGrad returns the derivative of x·σ(2u(x)): σ + 2x·σ(1 − σ)·u'(x),
// equal to the reference tensor.GELUTanhGrad.
func geluTanhGrad(x float64) float64 {
	s := geluTanhSigmoid(x)
	return s + 2*x*s*(1-s)*geluTanhK*(1+3*geluTanhC*x*x)
}

// GELUTanhBackward accumulates dx += dy·f'(x) for the tanh approximation f of
// GELUTanhForward, given dy and the forward's input x, all of one length. dx
// nil is skipped; dx must not alias x. It panics with a tensor.ShapeError if
// the lengths differ.
func GELUTanhBackward(dx, dy, x []float32) {
	chainRule("GELUTanhBackward", dx, dy, x, geluTanhGrad)
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
