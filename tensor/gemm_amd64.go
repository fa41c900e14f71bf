//go:build !purego && amd64

package tensor

//go:generate go run gemm_gen.go

// gemmAsmPanel is gemmPanel on the AVX-512 (wide) or AVX2 micro-kernels,
// for nb ≤ 64 (AVX-512) or nb ≤ 16 (AVX2) columns: the tallest tile
// generated for the panel's width over the rows, then one shorter tile for
// the leftover rows.
func gemmAsmPanel(wide bool, m, nb, kb int, alpha float32, a []float32, rsa, csa int, b []float32, ldb int, beta float32, c []float32, ldc int, epi gemmEpi) {
	var pb, pa, po *float32 // the epilogue's operands at row 0
	if epi.bias != nil {
		pb = &epi.bias[:nb][0]
	}
	if epi.add != nil {
		pa = &epi.add[0]
	}
	if epi.out2 != nil {
		po = &epi.out2[0]
	}
	c8 := (nb + 7) >> 3 // kernel width in units of 8 columns
	v := 0
	if nb&7 != 0 {
		v = 1 // masked last vector
	}
	var mr int
	if wide {
		mr = gemmAVX512MaxMR(c8)
	} else {
		mr = gemmAVX2MaxMR(c8)
	}
	var mt int
	switch mr { // constant divisors compile to multiplications
	case 6:
		mt = m / 6
	case 8:
		mt = m / 8
	case 12:
		mt = m / 12
	default:
		mt = m / mr
	}
	if mt > 0 {
		gemmAsmKernel(wide, c8, v, mr, mt, kb, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, alpha, beta, nb, pb, pa, po)
	}
	if r := m - mt*mr; r > 0 {
		i := mt * mr
		if pa != nil {
			pa = &epi.add[i*ldc]
		}
		if po != nil {
			po = &epi.out2[i*ldc]
		}
		gemmAsmKernel(wide, c8, v, r, 1, kb, &a[i*rsa], rsa, csa, &b[0], ldb, &c[i*ldc], ldc, alpha, beta, nb, pb, pa, po)
	}
}

// gemmAsmKernel calls the generated micro-kernel of the given instruction
// set, panel width (c8·8 columns), variant and height (gemm_kern_amd64.go).
func gemmAsmKernel(wide bool, c8, v, mr, mt, k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, n int, bias, add, out2 *float32) {
	if wide {
		gemmAVX512Kernel(c8, v, mr, mt, k, a, rsa, csa, b, ldb, c, ldc, alpha, beta, n, bias, add, out2)
	} else {
		gemmAVX2Kernel(c8, v, mr, mt, k, a, rsa, csa, b, ldb, c, ldc, alpha, beta, n, bias, add, out2)
	}
}
