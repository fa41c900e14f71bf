package circuits

// This file holds the two float64 micro-kernels the composition-score fast
// path is built on, in readable Go. kernel_amd64.s has AVX-512 versions that
// replace them at run time where the CPU supports them (see kernel_amd64.go);
// the purego build tag forces these. Tests compare the two.
//
//	gemm8x8: C[8×8]  = A[8×k]·B[k×8]   A strided (row stride ars, column stride acs),
//	                                    B and C row-major (ldb, ldc)
//	dot4x4:  C[4×4]  = A[4×k]·B[4×k]ᵀ  A and B row-major (lda, ldb), C packed [i*4+j]

// gemm8x8Go sets the 8×8 block c = a·b; see the file comment for the layout.
func gemm8x8Go(k int, a []float64, ars, acs int, b []float64, ldb int, c []float64, ldc int) {
	var acc [8][8]float64
	for p := range k {
		brow := b[p*ldb : p*ldb+8]
		for i := range 8 {
			ai := a[i*ars+p*acs]
			for j, bv := range brow {
				acc[i][j] += ai * bv
			}
		}
	}
	for i := range 8 {
		copy(c[i*ldc:i*ldc+8], acc[i][:])
	}
}

// dot4x4Go sets c[i*4+j] to the dot product of row i of a with row j of b,
// over k elements.
func dot4x4Go(k int, a []float64, lda int, b []float64, ldb int, c *[16]float64) {
	for i := range 4 {
		ai := a[i*lda : i*lda+k]
		for j := range 4 {
			bj := b[j*ldb : j*ldb+k]
			var s float64
			for p, av := range ai {
				s += av * bj[p]
			}
			c[i*4+j] = s
		}
	}
}

// gemm sets C = A·B where A is m×k with element (i, p) at a[i*ars+p*acs], B
// is k×n row-major with stride ldb and C is m×n row-major with stride ldc.
// Full 8×8 blocks go to the micro-kernel, the edges to plain loops. The
// slices must be long enough for those shapes; gemm panics (index out of
// range) otherwise.
func gemm(m, n, k int, a []float64, ars, acs int, b []float64, ldb int, c []float64, ldc int) {
	m8, n8 := m&^7, n&^7
	for i := 0; i < m8; i += 8 {
		for j := 0; j < n8; j += 8 {
			gemm8x8(k, a[i*ars:], ars, acs, b[j:], ldb, c[i*ldc+j:], ldc)
		}
	}
	for i := range m {
		j0 := n8
		if i >= m8 {
			j0 = 0
		}
		for j := j0; j < n; j++ {
			var s float64
			for p := range k {
				s += a[i*ars+p*acs] * b[p*ldb+j]
			}
			c[i*ldc+j] = s
		}
	}
}

// dots adds to dst[i*lddst+j] the dot product of row i of a (m rows, stride
// lda) with row j of b (n rows, stride ldb), over k elements. m and n must be
// multiples of 4.
func dots(m, n, k int, a []float64, lda int, b []float64, ldb int, dst []float64, lddst int) {
	var c [16]float64
	for i := 0; i < m; i += 4 {
		for j := 0; j < n; j += 4 {
			dot4x4(k, a[i*lda:], lda, b[j*ldb:], ldb, &c)
			for r := range 4 {
				row := dst[(i+r)*lddst+j : (i+r)*lddst+j+4]
				for s := range row {
					row[s] += c[r*4+s]
				}
			}
		}
	}
}
