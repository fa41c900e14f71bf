package nn

import (
	"fmt"

	"github.com/mechinterp/workbench/tensor"
)

// LinearForward computes y = x·w + b: y is [rows, out], x is [rows, in], w is
// [in, out] (TransformerLens's W_in, W_U, ... layout) and b is [out], or nil
// for no bias. y is overwritten and must not alias x or w.
//
// It panics with a tensor.ShapeError if a slice is shorter than its shape.
func LinearForward(y, x, w, b []float32, rows, in, out int) {
	LinearForwardStrided(y, x, w, b, rows, in, out, out, in, out)
}

// LinearBackward accumulates the gradients of LinearForward given dy [rows,
// out] and the forward's x [rows, in] and w [in, out]:
//
//	dx [rows, in] += dy·wᵀ     (skipped if dx is nil)
//	dw [in, out]  += xᵀ·dy
//	db [out]      += Σ_rows dy  (skipped if db is nil)
//
// It panics with a tensor.ShapeError if a slice is shorter than its shape.
func LinearBackward(dx, dw, db, dy, x, w []float32, rows, in, out int) {
	LinearBackwardStrided(dx, dw, db, dy, x, w, rows, in, out, out, in, out)
}

// LinearForwardStrided is LinearForward on matrices embedded in larger ones:
// row i of y starts at y[i*ldy], row i of x at x[i*ldx] and row p of w at
// w[p*ldw] (ldy ≥ out, ldx ≥ in, ldw ≥ out); b, if not nil, is [out] and
// contiguous. Elements of y between rows are left untouched.
//
// It computes one head of a per-head projection without copies: with
// W_Q [n_heads, d_model, d_head] and q [rows, n_heads, d_head],
//
//	LinearForwardStrided(q[h*dh:], x, W_Q[h*d*dh:], b_Q[h*dh:], rows, d, dh, H*dh, d, dh)
//
// writes q[:, h, :] = x·W_Q[h] + b_Q[h]. It panics with a tensor.ShapeError
// if a slice is too short or a leading dimension too small.
func LinearForwardStrided(y, x, w, b []float32, rows, in, out, ldy, ldx, ldw int) {
	if b != nil {
		lenAtLeast("LinearForward", "len(b)", len(b), out)
		tensor.GemmBias(rows, out, in, 1, x, ldx, w, ldw, b, y, ldy) // the bias in the GEMM epilogue
		return
	}
	tensor.Gemm(false, false, rows, out, in, 1, x, ldx, w, ldw, 0, y, ldy)
}

// LinearBackwardStrided is LinearBackward on strided matrices, the adjoint of
// LinearForwardStrided: dy has the layout of y (row stride ldy), dx and x of x
// (ldx), dw and w of w (ldw); db is [out] and contiguous. dx is accumulated,
// so the per-head projections of one input sum their input gradients into the
// same dx. dx and db may be nil (skipped).
//
// It panics with a tensor.ShapeError if a slice is too short or a leading
// dimension too small.
func LinearBackwardStrided(dx, dw, db, dy, x, w []float32, rows, in, out, ldy, ldx, ldw int) {
	if dx != nil {
		tensor.Gemm(false, true, rows, in, out, 1, dy, ldy, w, ldw, 1, dx, ldx)
	}
	tensor.Gemm(true, false, in, out, rows, 1, x, ldx, dy, ldy, 1, dw, ldw)
	if db != nil {
		lenAtLeast("LinearBackward", "len(db)", len(db), out)
		lenAtLeast("LinearBackward", "ldy", ldy, out)
		lenAtLeast("LinearBackward", "len(dy)", len(dy), matLen(rows, out, ldy))
		tensor.ColSumAdd(db[:out], dy, rows, ldy) // float64 sums, AVX-512 where available
	}
}

// matLen is the number of elements a [rows, cols] matrix with row stride ld
// spans.
func matLen(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// lenAtLeast panics with a tensor.ShapeError naming op and what (a slice
// length or a leading dimension) if have < want: a programmer error, a slice
// too short or a stride too small for the dimensions it was given.
func lenAtLeast(op, what string, have, want int) {
	if have < want {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("%s = %d, need at least %d", what, have, want)})
	}
}
