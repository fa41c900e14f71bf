package tensor

import "fmt"

// ColSumAdd adds the column sums of the [rows, n] matrix a (row stride
// lda ≥ n) to dst, n = len(dst):
//
//	dst[j] = float32(float64(dst[j]) + Σ_i float64(a[i·lda + j]))
//
// Each sum accumulates in float64 in row order, so thousands of rows lose
// no precision and every kernel gives the same bits. It is the bias
// gradient of a linear layer (Σ over rows of the output gradient). It panics
// with a ShapeError if rows < 0, lda < n or a is too short.
func ColSumAdd(dst, a []float32, rows, lda int) {
	n := len(dst)
	if rows < 0 || lda < n || rows > 0 && n > 0 && len(a) < (rows-1)*lda+n {
		panic(ShapeError{Op: "ColSumAdd", Msg: fmt.Sprintf("%d×%d with ld %d: have %d elements", rows, n, lda, len(a))})
	}
	if rows == 0 || n == 0 {
		return
	}
	colSumAdd(dst, a, rows, lda)
}

// colSumBlock is the number of columns colSumAddGo accumulates at once in
// float64 on the stack.
const colSumBlock = 64

// colSumAddGo is the portable ColSumAdd (arguments checked, rows and n
// positive) and the reference for the AVX-512 kernel.
func colSumAddGo(dst, a []float32, rows, lda int) {
	for j0 := 0; j0 < len(dst); j0 += colSumBlock {
		n := min(colSumBlock, len(dst)-j0)
		var acc [colSumBlock]float64
		for i := range rows {
			ai := a[i*lda+j0 : i*lda+j0+n]
			for j, v := range ai {
				acc[j] += float64(v)
			}
		}
		for j := range n {
			dst[j0+j] = float32(float64(dst[j0+j]) + acc[j])
		}
	}
}
