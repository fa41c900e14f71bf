//go:build !amd64 || purego

package circuits

// kernelName names the micro-kernels in use: "go" on this build.
func kernelName() string { return "go" }

func gemm8x8(k int, a []float64, ars, acs int, b []float64, ldb int, c []float64, ldc int) {
	gemm8x8Go(k, a, ars, acs, b, ldb, c, ldc)
}

func dot4x4(k int, a []float64, lda int, b []float64, ldb int, c *[16]float64) {
	dot4x4Go(k, a, lda, b, ldb, c)
}
