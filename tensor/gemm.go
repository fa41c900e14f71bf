package tensor

import "fmt"

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) is X or Xᵀ as transA/transB say. op(A) is m×k, op(B) is k×n, C is m×n.
// lda, ldb, ldc are leading dimensions (row strides) of the stored matrices:
// A is stored m×k (lda ≥ k) or, transposed, k×m (lda ≥ m); likewise B.
// With beta == 0, C is not read (NaNs in C do not propagate); with k == 0,
// C = beta·C. Elements of C outside the m×n block (the padding up to ldc)
// are neither read nor written.
//
// Gemm panics with a ShapeError if a dimension is negative, a leading
// dimension is too small, or a slice is too short. It never allocates.
// It dispatches to the fastest kernel this CPU supports (see Kernel) and
// runs on the calling goroutine only; callers parallelise over batches.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmRef is the readable reference for Gemm: the same contract, computed
// with float64 accumulation, one output at a time. Tests compare every kernel
// against it; it is slow and must not be used on hot paths.
func GemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			r := float64(alpha) * s
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(r)
		}
	}
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := storedDims(transA, m, k)
	br, bc := storedDims(transB, k, n)
	// The common case inlines and costs a few compares; the messages are
	// built only on failure.
	if m < 0 || n < 0 || k < 0 || !matOK(a, ar, ac, lda) || !matOK(b, br, bc, ldb) || !matOK(c, m, n, ldc) {
		gemmShapePanic(m, n, k, a, ar, ac, lda, b, br, bc, ldb, c, ldc)
	}
}

// storedDims returns the shape in which op(X) of shape rows×cols is stored.
func storedDims(trans bool, rows, cols int) (int, int) {
	if trans {
		return cols, rows
	}
	return rows, cols
}

// matOK reports whether x holds a rows×cols matrix with leading dimension ld.
func matOK(x []float32, rows, cols, ld int) bool {
	return ld >= max(cols, 1) && (rows == 0 || cols == 0 || len(x) >= (rows-1)*ld+cols)
}

func gemmShapePanic(m, n, k int, a []float32, ar, ac, lda int, b []float32, br, bc, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(ShapeError{Op: "Gemm", Msg: fmt.Sprintf("negative dimension m=%d n=%d k=%d", m, n, k)})
	}
	checkMat("A", a, ar, ac, lda)
	checkMat("B", b, br, bc, ldb)
	checkMat("C", c, m, n, ldc)
}

func checkMat(name string, x []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(ShapeError{Op: "Gemm", Msg: fmt.Sprintf("%s: leading dimension %d < %d columns", name, ld, cols)})
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(ShapeError{Op: "Gemm", Msg: fmt.Sprintf("%s: %d×%d with ld %d needs %d elements, have %d", name, rows, cols, ld, need, len(x))})
	}
}

// GemmBias computes C = alpha·A·B + bias, where A is m×k (lda ≥ k), B is k×n
// (ldb ≥ n), C is m×n (ldc ≥ n) and bias [n] is added to every row of C: a
// linear layer's forward, y = x·W + b. The assembly kernels add the bias in
// their epilogue, one FMA per element (bit for bit what Gemm with beta = 1
// gives on a C holding the bias in every row, without the copy); C is not
// read. With k == 0, every row of C is set to bias. It panics with a
// ShapeError as Gemm does, or if bias is shorter than n.
func GemmBias(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	checkGemm(false, false, m, n, k, a, lda, b, ldb, c, ldc)
	if len(bias) < n {
		panic(ShapeError{Op: "GemmBias", Msg: fmt.Sprintf("bias has %d elements, need %d", len(bias), n)})
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := range m {
			copy(c[i*ldc:i*ldc+n], bias[:n])
		}
		return
	}
	gemmNN(kernel, false, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, gemmEpi{bias: bias})
}

// GemmBiasAdd is GemmBias that also stores out2 = C + add, where add and
// out2 have C's layout (m×n, leading dimension ldc): a layer's output and
// the residual stream after it, y = x·W + b and r' = r + y, in one pass
// (bit for bit what GemmBias and an element-wise add give). out2 may be add
// (in place) but not C. It panics with a ShapeError as GemmBias does, or if
// add or out2 is too short.
func GemmBiasAdd(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int, add, out2 []float32) {
	checkGemm(false, false, m, n, k, a, lda, b, ldb, c, ldc)
	if len(bias) < n || !matOK(add, m, n, ldc) || !matOK(out2, m, n, ldc) {
		panic(ShapeError{Op: "GemmBiasAdd", Msg: fmt.Sprintf("bias, add, out2: %d, %d, %d elements for %d×%d with ld %d", len(bias), len(add), len(out2), m, n, ldc)})
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || k > gemmKC { // the kernels fuse a single k block only
		GemmBias(m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
		gemmGoOut2(m, n, c, ldc, gemmEpi{add: add, out2: out2})
		return
	}
	gemmNN(kernel, false, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, gemmEpi{bias: bias, add: add, out2: out2})
}

// GemmAdd computes C = alpha·op(A)·op(B) + add, where add has C's layout
// (m×n, leading dimension ldc) and may be C itself: Gemm with beta = 1 on a
// C that holds add, bit for bit, without the copy (a gradient that sums a
// residual path and a projection's). It panics with a ShapeError as Gemm
// does, or if add is too short.
func GemmAdd(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, add, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if !matOK(add, m, n, ldc) {
		panic(ShapeError{Op: "GemmAdd", Msg: fmt.Sprintf("add: %d elements for %d×%d with ld %d", len(add), m, n, ldc)})
	}
	if m == 0 || n == 0 {
		return
	}
	switch {
	case k == 0:
		for i := range m {
			copy(c[i*ldc:i*ldc+n], add[i*ldc:i*ldc+n])
		}
	case transB:
		gemmPackedB(kernel, transA, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, gemmEpi{add: add})
	default:
		gemmNN(kernel, transA, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc, gemmEpi{add: add})
	}
}
