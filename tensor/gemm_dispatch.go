package tensor

// gemmKernel names one implementation of Gemm.
type gemmKernel int

const (
	kernelGo     gemmKernel = iota // portable blocked Go (gemm_go.go)
	kernelAVX2                     // AVX2+FMA assembly, 6×16 register tiles
	kernelAVX512                   // AVX-512 assembly, 6×64 register tiles
)

func (k gemmKernel) String() string {
	switch k {
	case kernelAVX512:
		return "avx512"
	case kernelAVX2:
		return "avx2"
	}
	return "go"
}

// kernel is the Gemm implementation for this machine, chosen once from
// CPUID at package initialisation (see detectKernel) and never changed.
var kernel = detectKernel()

// Kernel names the GEMM kernel in use on this machine ("go", "avx2",
// "avx512"). It is fixed for the life of the process; the purego build tag
// forces "go".
func Kernel() string { return kernel.String() }

// Blocking, shared by every kernel. A k block of one column panel of B
// (gemmKC rows × gemmNC columns, 64 KiB) stays in L2, and mostly in L1,
// while the row tiles of C stream past it; C is revisited once per k block.
// A transposed B is packed gemmPackKC rows at a time into a 32 KiB stack
// array. Measured on Zen 4 (32 KiB L1d, 1 MiB L2) with the AVX-512 kernels:
// kc = 64, 128, 256 and 512 are within 3% of each other, 256 and 512 best.
const (
	gemmKC     = 256
	gemmPackKC = 128
	gemmNC     = 64
)

// gemm is the kernel Gemm dispatches to once arguments are checked and
// m, n > 0.
func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmWith(kernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmWith is Gemm on a given implementation, which must be one of
// gemmKernels() (tests run every one this CPU has). Arguments are checked.
// op(A) is read in place through strides (element (i, p) at a[i·rsa +
// p·csa]); B is read in place when not transposed and otherwise repacked,
// one block at a time, into a bounded stack array.
func gemmWith(kern gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if k == 0 {
		gemmScale(m, n, beta, c, ldc)
		return
	}
	if transB {
		gemmPackedB(kern, transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, gemmEpi{})
		return
	}
	gemmNN(kern, transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, gemmEpi{})
}

// gemmEpi is the optional epilogue of a GEMM's first k block, in place of
// beta: bias [n] added to every row of C and/or add (C's layout) added;
// with both, C = alpha·A·B + bias and out2 (C's layout) = C + add, which
// needs a single k block. The zero value is none.
type gemmEpi struct{ bias, add, out2 []float32 }

// cols returns e for the columns from j on.
func (e gemmEpi) cols(j int) gemmEpi {
	if e.bias != nil {
		e.bias = e.bias[j:]
	}
	if e.add != nil {
		e.add = e.add[j:]
	}
	if e.out2 != nil {
		e.out2 = e.out2[j:]
	}
	return e
}

// gemmNN is gemmWith for an untransposed B, k > 0, reading B in place,
// with epilogue epi (beta ignored if set) on the first k block; later
// blocks accumulate.
func gemmNN(kern gemmKernel, transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi gemmEpi) {
	rsa, csa := gemmStrides(transA, lda)
	for pc := 0; pc < k; pc += gemmKC {
		kb := min(gemmKC, k-pc)
		bt, e := beta, epi
		if pc > 0 {
			bt, e = 1, gemmEpi{}
		}
		for jc := 0; jc < n; jc += gemmNC {
			gemmPanel(kern, m, min(gemmNC, n-jc), kb, alpha, a[pc*csa:], rsa, csa, b[pc*ldb+jc:], ldb, bt, c[jc:], ldc, e.cols(jc))
		}
	}
}

// gemmPackedB is gemmWith for a transposed B: each block op(B)[pc:pc+kb,
// jc:jc+nb] is copied row-major into a stack array first. It is a separate
// function so that the other cases do not pay for zeroing the array.
//
//go:noinline
func gemmPackedB(kern gemmKernel, transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi gemmEpi) {
	var buf [gemmPackKC * gemmNC]float32
	rsa, csa := gemmStrides(transA, lda)
	for jc := 0; jc < n; jc += gemmNC {
		nb := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += gemmPackKC {
			kb := min(gemmPackKC, k-pc)
			gemmPackBT(buf[:kb*nb], b[jc*ldb+pc:], ldb, kb, nb)
			bt, e := beta, epi.cols(jc)
			if pc > 0 {
				bt, e = 1, gemmEpi{}
			}
			gemmPanel(kern, m, nb, kb, alpha, a[pc*csa:], rsa, csa, buf[:kb*nb], nb, bt, c[jc:], ldc, e)
		}
	}
}

// gemmStrides returns the strides of op(A)'s rows and columns in A.
func gemmStrides(transA bool, lda int) (rsa, csa int) {
	if transA {
		return 1, lda
	}
	return lda, 1
}

// gemmPanel computes C[m, nb] = alpha·A[m, kb]·B[kb, nb] + beta·C for one
// column panel (nb ≤ gemmNC), A element (i, p) at a[i·rsa + p·csa] and B
// row p at b[p·ldb:]; with an epilogue, as gemmEpi says instead of beta.
func gemmPanel(kern gemmKernel, m, nb, kb int, alpha float32, a []float32, rsa, csa int, b []float32, ldb int, beta float32, c []float32, ldc int, epi gemmEpi) {
	switch kern {
	case kernelAVX512:
		gemmAsmPanel(true, m, nb, kb, alpha, a, rsa, csa, b, ldb, beta, c, ldc, epi)
	case kernelAVX2:
		for j := 0; j < nb; j += 16 { // the AVX2 tiles are 16 columns wide
			gemmAsmPanel(false, m, min(16, nb-j), kb, alpha, a, rsa, csa, b[j:], ldb, beta, c[j:], ldc, epi.cols(j))
		}
	default:
		gemmGoPanel(m, nb, kb, alpha, a, rsa, csa, b, ldb, beta, c, ldc, epi)
	}
}
