//go:build !purego && amd64

package tensor

//go:generate go run gemm_gen.go

// Blocking of the assembly drivers. A k block of one column panel of B
// (gemmKC rows of at most gemmNC columns, 64 KiB) stays in L2, and mostly
// in L1, while every row tile of C streams past it; C is revisited once per
// k block. A transposed B is packed gemmPackKC rows at a time into a 32 KiB
// stack array. Measured on Zen 4 (32 KiB L1d, 1 MiB L2): kc = 64, 128, 256
// and 512 are within 3% of each other, 256 and 512 best.
const (
	gemmKC     = 256
	gemmPackKC = 128
	gemmNC     = 64 // widest column panel: four ZMM or (AVX2) two YMM vectors
)

// gemmAVX512 is Gemm on the AVX-512 micro-kernels. Arguments are checked.
func gemmAVX512(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmAsm(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmAVX2 is Gemm on the AVX2+FMA micro-kernels. Arguments are checked.
func gemmAVX2(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmAsm(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmAsm drives the micro-kernels of one instruction set (AVX-512 when
// wide is set, else AVX2) over k blocks and column panels. op(A) is read in
// place through strides; op(B) is read in place when not transposed and
// otherwise repacked, one block at a time, into a bounded stack buffer.
func gemmAsm(wide, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if k == 0 {
		gemmScale(m, n, beta, c, ldc)
		return
	}
	if transB {
		gemmAsmPackedB(wide, transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	rsa, csa := lda, 1
	if transA {
		rsa, csa = 1, lda
	}
	nc := gemmNC
	if !wide {
		nc = 16
	}
	for pc := 0; pc < k; pc += gemmKC {
		kb := min(gemmKC, k-pc)
		bt := beta
		if pc > 0 {
			bt = 1
		}
		for jc := 0; jc < n; jc += nc {
			gemmAsmPanel(wide, m, min(nc, n-jc), kb, alpha, a[pc*csa:], rsa, csa, &b[pc*ldb+jc], ldb, bt, c[jc:], ldc)
		}
	}
}

// gemmAsmPackedB is gemmAsm for a transposed B: each block op(B)[pc:pc+kb,
// jc:jc+nb] is copied row-major into a stack array first. It is a separate
// function so that the other cases do not pay for zeroing the array.
//
//go:noinline
func gemmAsmPackedB(wide, transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	var buf [gemmPackKC * gemmNC]float32
	rsa, csa := lda, 1
	if transA {
		rsa, csa = 1, lda
	}
	nc := gemmNC
	if !wide {
		nc = 16
	}
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += gemmPackKC {
			kb := min(gemmPackKC, k-pc)
			gemmPackBT(buf[:kb*nb], b[jc*ldb+pc:], ldb, kb, nb)
			bt := beta
			if pc > 0 {
				bt = 1
			}
			gemmAsmPanel(wide, m, nb, kb, alpha, a[pc*csa:], rsa, csa, &buf[0], nb, bt, c[jc:], ldc)
		}
	}
}

// gemmAsmPanel computes C[m, nb] = alpha·A[m, kb]·B[kb, nb] + beta·C for one
// column panel (nb ≤ gemmNC) with the tallest tile generated for its width,
// then one shorter tile for the leftover rows. A element (i, p) is
// a[i·rsa + p·csa].
func gemmAsmPanel(wide bool, m, nb, kb int, alpha float32, a []float32, rsa, csa int, b *float32, ldb int, beta float32, c []float32, ldc int) {
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
	default:
		mt = m / mr
	}
	if mt > 0 {
		gemmAsmKernel(wide, c8, v, mr, mt, kb, &a[0], rsa, csa, b, ldb, &c[0], ldc, alpha, beta, nb)
	}
	if r := m - mt*mr; r > 0 {
		i := mt * mr
		gemmAsmKernel(wide, c8, v, r, 1, kb, &a[i*rsa], rsa, csa, b, ldb, &c[i*ldc], ldc, alpha, beta, nb)
	}
}

func gemmAsmKernel(wide bool, c8, v, mr, mt, k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, n int) {
	if wide {
		gemmAVX512Kernel(c8, v, mr, mt, k, a, rsa, csa, b, ldb, c, ldc, alpha, beta, n)
	} else {
		gemmAVX2Kernel(c8, v, mr, mt, k, a, rsa, csa, b, ldb, c, ldc, alpha, beta, n)
	}
}
