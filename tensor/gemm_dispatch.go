package tensor

// gemmKernel names one implementation of Gemm.
type gemmKernel int

const (
	kernelGo     gemmKernel = iota // portable blocked Go (gemmGo)
	kernelAVX2                     // AVX2+FMA assembly, 6×16 register tiles
	kernelAVX512                   // AVX-512F assembly, 6×64 register tiles
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

// gemm is the kernel Gemm dispatches to once arguments are checked and
// m, n > 0.
func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmWith(kernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmWith runs Gemm on a given implementation, which must be one of
// gemmKernels(). Tests use it to check every path this CPU can run.
func gemmWith(kern gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch kern {
	case kernelAVX512:
		gemmAVX512(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	case kernelAVX2:
		gemmAVX2(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	default:
		gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}
