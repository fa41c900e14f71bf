package tensor

// The portable kernel (kernelGo) is the only one on other architectures and
// under the purego tag. It shares gemmWith's blocking and B packing with the
// assembly kernels and computes each panel with 2×4 register tiles.

// gemmGoPanel is gemmPanel on the portable kernel: it scales C by beta
// (clearing it when beta == 0, without reading it), or sets it to the
// epilogue's bias rows or addend, and then accumulates (and with both,
// stores out2 = C + add).
func gemmGoPanel(m, nb, kb int, alpha float32, a []float32, rsa, csa int, b []float32, ldb int, beta float32, c []float32, ldc int, epi gemmEpi) {
	switch {
	case epi.bias != nil:
		for i := range m {
			copy(c[i*ldc:i*ldc+nb], epi.bias[:nb])
		}
	case epi.add != nil:
		for i := range m {
			copy(c[i*ldc:i*ldc+nb], epi.add[i*ldc:i*ldc+nb])
		}
	default:
		gemmScale(m, nb, beta, c, ldc)
	}
	if epi.bias != nil && epi.add != nil {
		defer gemmGoOut2(m, nb, c, ldc, epi)
	}
	gemmGoBlock(m, nb, kb, alpha, a, rsa, csa, b, ldb, c, ldc)
}

// gemmGoBlock computes C[m, nb] += alpha·A[m, kb]·B[kb, nb], where A element
// (i, p) is a[i·rsa + p·csa] and B row p starts at b[p·ldb].
func gemmGoBlock(m, nb, kb int, alpha float32, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int) {
	i := 0
	for ; i+2 <= m; i += 2 {
		j := 0
		for ; j+4 <= nb; j += 4 {
			gemmGo2x4(kb, alpha, a[i*rsa:], rsa, csa, b[j:], ldb, c[i*ldc+j:], ldc)
		}
		for ; j < nb; j++ {
			gemmGoDot(kb, alpha, a[i*rsa:], csa, b[j:], ldb, c[i*ldc+j:])
			gemmGoDot(kb, alpha, a[(i+1)*rsa:], csa, b[j:], ldb, c[(i+1)*ldc+j:])
		}
	}
	if i < m {
		for j := 0; j < nb; j++ {
			gemmGoDot(kb, alpha, a[i*rsa:], csa, b[j:], ldb, c[i*ldc+j:])
		}
	}
}

// gemmGo2x4 adds alpha·A[2, kb]·B[kb, 4] to a 2×4 tile of C. Eight sums
// plus the operands fit the fifteen registers the Go compiler allocates
// floats to on amd64; a 4×4 tile spills and runs slower.
func gemmGo2x4(kb int, alpha float32, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	ia, ib := 0, 0
	for p := 0; p < kb; p++ {
		bp := b[ib : ib+4 : ib+4]
		a0, a1 := a[ia], a[ia+rsa]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		ia += csa
		ib += ldb
	}
	r := c[0:4:4]
	r[0] += alpha * c00
	r[1] += alpha * c01
	r[2] += alpha * c02
	r[3] += alpha * c03
	r = c[ldc : ldc+4 : ldc+4]
	r[0] += alpha * c10
	r[1] += alpha * c11
	r[2] += alpha * c12
	r[3] += alpha * c13
}

// gemmGoDot adds alpha·Σ_p a[p·csa]·b[p·ldb] to c[0].
func gemmGoDot(kb int, alpha float32, a []float32, csa int, b []float32, ldb int, c []float32) {
	var s float32
	for p := 0; p < kb; p++ {
		s += a[p*csa] * b[p*ldb]
	}
	c[0] += alpha * s
}

// gemmScale sets C[m, n] = beta·C; with beta == 0 it clears C without
// reading it, so NaNs in C do not propagate.
func gemmScale(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(ci)
			continue
		}
		for j := range ci {
			ci[j] *= beta
		}
	}
}

// gemmPackBT copies a kb×nb block of Bᵀ, where B row j starts at b[j·ldb],
// into dst row-major: dst[p·nb + j] = b[j·ldb + p]. Four rows of B are read
// together so that each step writes four adjacent floats.
func gemmPackBT(dst, b []float32, ldb, kb, nb int) {
	dst = dst[:kb*nb]
	j := 0
	for ; j+4 <= nb; j += 4 {
		b0 := b[j*ldb:][:kb]
		b1 := b[(j+1)*ldb:][:kb]
		b2 := b[(j+2)*ldb:][:kb]
		b3 := b[(j+3)*ldb:][:kb]
		for p := range b0 {
			d := dst[p*nb+j : p*nb+j+4 : p*nb+j+4]
			d[0], d[1], d[2], d[3] = b0[p], b1[p], b2[p], b3[p]
		}
	}
	for ; j < nb; j++ {
		bj := b[j*ldb:][:kb]
		for p, v := range bj {
			dst[p*nb+j] = v
		}
	}
}

// gemmGoOut2 stores out2 = C + add for the m×nb block.
func gemmGoOut2(m, nb int, c []float32, ldc int, epi gemmEpi) {
	for i := range m {
		ci, ai, oi := c[i*ldc:i*ldc+nb], epi.add[i*ldc:i*ldc+nb], epi.out2[i*ldc:i*ldc+nb]
		for j := range ci {
			oi[j] = ci[j] + ai[j]
		}
	}
}
