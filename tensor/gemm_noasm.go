//go:build purego || !amd64

package tensor

// detectKernel: without assembly (the purego tag or another architecture)
// Gemm always runs the portable kernel.
func detectKernel() gemmKernel { return kernelGo }

// gemmKernels lists every Gemm implementation this build can run.
func gemmKernels() []gemmKernel { return []gemmKernel{kernelGo} }

func gemmAVX512(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("tensor: AVX-512 GEMM kernel not built")
}

func gemmAVX2(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("tensor: AVX2 GEMM kernel not built")
}
