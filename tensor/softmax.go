package tensor

import "math"

// SoftmaxRow writes softmax(x) into dst[:len(x)] and returns the shift
// and normaliser of the log-sum-exp, logsumexp(x) = m + log(s): m is the
// maximum of x (NaN if any element is NaN), s = Σ_j e^(x[j] − m) accumulated
// in float64, and dst[j] = e^(x[j] − m)·float32(1/s), with ExpShift's
// exponentials (so entries below m − 87.3, −Inf included, get exactly 0).
// A row whose maximum is −Inf gives zeros, m = −Inf and s = 0. On AVX-512 it
// runs in registers (the same arithmetic, the same bits, as the portable
// softmaxRowGo: ExpShift's kernel and summation order). It panics with a
// ShapeError if x is empty or dst shorter than x.
func SoftmaxRow(dst, x []float32) (m float32, s float64) {
	if len(x) == 0 || len(dst) < len(x) {
		panic(ShapeError{Op: "SoftmaxRow", Msg: "empty row or dst shorter than x"})
	}
	return softmaxRow(dst[:len(x)], x)
}

// softmaxRowGo is the portable SoftmaxRow (len(dst) = len(x) ≥ 1) and the
// reference for the AVX-512 kernel.
func softmaxRowGo(dst, x []float32) (m float32, s float64) {
	m = x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) {
		clear(dst)
		return m, 0
	}
	s = ExpShift(dst, x, m)
	inv := float32(1 / s)
	for j := range dst {
		dst[j] *= inv
	}
	return m, s
}
