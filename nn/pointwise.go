package nn

import (
	"math"

	"github.com/mechinterp/workbench/tensor"
)

// LeakyReLUForward writes y = x for x > 0 and slope·x otherwise (PyTorch's
// nn.LeakyReLU with negative_slope = slope; DCGAN's discriminator uses 0.2).
// x and y have the same length; y may alias x. It panics with a
// tensor.ShapeError if the lengths differ.
//
// Like LeakyReLUBackward it selects the factor by indexing a two-entry table
// with the comparison instead of branching: on activations of random sign a
// branch mispredicts half the time and costs several times the arithmetic.
func LeakyReLUForward(y, x []float32, slope float32) {
	sameLen("LeakyReLUForward", y, x)
	factor := [2]float32{slope, 1}
	y = y[:len(x)]
	for i, v := range x {
		y[i] = v * factor[b2i(v > 0)]
	}
}

// LeakyReLUBackward accumulates dx += dy·(1 if x > 0 else slope), given dy and
// the forward's input x (the derivative at 0 is slope, as in PyTorch). With
// slope 0 it is ReLU's derivative (for finite dy), without ReLUBackward's
// data-dependent branch. dx nil is skipped. It panics with a
// tensor.ShapeError if the lengths differ.
func LeakyReLUBackward(dx, dy, x []float32, slope float32) {
	if dx == nil {
		return
	}
	sameLen("LeakyReLUBackward", dx, dy, x)
	factor := [2]float32{slope, 1}
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		dx[i] += dy[i] * factor[b2i(v > 0)]
	}
}

// b2i returns 1 for true and 0 for false; the compiler makes it a SETcc,
// not a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TanhForward writes y = tanh(x). x and y have the same length; y may alias
// x. It panics with a tensor.ShapeError if the lengths differ.
func TanhForward(y, x []float32) {
	sameLen("TanhForward", y, x)
	for i, v := range x {
		y[i] = float32(math.Tanh(float64(v)))
	}
}

// TanhBackward accumulates dx += dy·(1 − y²), given dy and the forward's
// OUTPUT y. dx nil is skipped. It panics with a tensor.ShapeError if the
// lengths differ.
func TanhBackward(dx, dy, y []float32) {
	if dx == nil {
		return
	}
	sameLen("TanhBackward", dx, dy, y)
	for i, v := range y {
		dx[i] += dy[i] * (1 - v*v)
	}
}

// SigmoidForward writes y = σ(x) = 1/(1 + e^−x), computed without overflow
// for either sign. x and y have the same length; y may alias x. It panics
// with a tensor.ShapeError if the lengths differ.
func SigmoidForward(y, x []float32) {
	sameLen("SigmoidForward", y, x)
	for i, v := range x {
		y[i] = float32(sigmoid(float64(v)))
	}
}

// SigmoidBackward accumulates dx += dy·y·(1 − y), given dy and the forward's
// OUTPUT y. dx nil is skipped. It panics with a tensor.ShapeError if the
// lengths differ.
func SigmoidBackward(dx, dy, y []float32) {
	if dx == nil {
		return
	}
	sameLen("SigmoidBackward", dx, dy, y)
	for i, v := range y {
		dx[i] += dy[i] * v * (1 - v)
	}
}

// Flatten returns a view of t [batch, ...] as [batch, rest], the product of
// the other dimensions: in row-major NCHW memory flattening moves no data
// (PyTorch's nn.Flatten with start_dim 1). The gradient is the same view of
// the gradient. It panics with a tensor.ShapeError if t has no dimension.
func Flatten(t *tensor.Tensor) *tensor.Tensor {
	if len(t.Shape) == 0 {
		panic(tensor.ShapeError{Op: "nn.Flatten", Msg: "scalar has no batch dimension"})
	}
	return tensor.FromSlice(t.Data, t.Shape[0], tensor.Numel(t.Shape[1:]))
}

// sigmoid returns 1/(1 + e^−x) without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus returns log(1 + eˣ) without overflow or cancellation.
func softplus(x float64) float64 {
	return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}
