//go:build amd64 && !purego

package circuits

import "github.com/mechinterp/workbench/tensor"

// kernelName names the micro-kernels in use on this machine: "avx512" or "go".
func kernelName() string {
	if tensor.HasAVX512() {
		return "avx512"
	}
	return "go"
}

//go:noescape
func gemm8x8AVX512(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int)

//go:noescape
func dot4x4AVX512(k int, a *float64, lda int, b *float64, ldb int, c *[16]float64)

// gemm8x8 is gemm8x8Go, in AVX-512 where tensor.HasAVX512 allows it. The bounds are checked
// here, once, because the assembly does not check them.
func gemm8x8(k int, a []float64, ars, acs int, b []float64, ldb int, c []float64, ldc int) {
	if !tensor.HasAVX512() || k == 0 {
		gemm8x8Go(k, a, ars, acs, b, ldb, c, ldc)
		return
	}
	_ = a[7*ars+(k-1)*acs]
	_ = b[(k-1)*ldb+7]
	_ = c[7*ldc+7]
	gemm8x8AVX512(k, &a[0], ars, acs, &b[0], ldb, &c[0], ldc)
}

// dot4x4 is dot4x4Go, in AVX-512 where available; the assembly covers the
// first k&^7 elements and Go the rest.
func dot4x4(k int, a []float64, lda int, b []float64, ldb int, c *[16]float64) {
	k8 := k &^ 7
	if !tensor.HasAVX512() || k8 == 0 {
		dot4x4Go(k, a, lda, b, ldb, c)
		return
	}
	_ = a[3*lda+k-1]
	_ = b[3*ldb+k-1]
	dot4x4AVX512(k8, &a[0], lda, &b[0], ldb, c)
	if k8 == k {
		return
	}
	var tail [16]float64
	dot4x4Go(k-k8, a[k8:], lda, b[k8:], ldb, &tail)
	for i, v := range tail {
		c[i] += v
	}
}
