//go:build purego || !amd64

package tensor

// detectKernel: without assembly (the purego tag or another architecture)
// Gemm always runs the portable kernel.
func detectKernel() gemmKernel { return kernelGo }

// gemmKernels lists every Gemm implementation this build can run.
func gemmKernels() []gemmKernel { return []gemmKernel{kernelGo} }

// gemmAsmPanel is never called in this build: gemmKernels offers no
// assembly kernel.
func gemmAsmPanel(wide bool, m, nb, kb int, alpha float32, a []float32, rsa, csa int, b []float32, ldb int, beta float32, c []float32, ldc int, epi gemmEpi) {
	panic("tensor: GEMM assembly kernels not built")
}
