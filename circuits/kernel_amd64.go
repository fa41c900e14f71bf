//go:build amd64 && !purego

package circuits

// useAVX512 reports whether the CPU and OS support the AVX-512 kernels. It is
// set once when the package is initialised and never changes.
var useAVX512 = detectAVX512()

// kernelName names the micro-kernels in use on this machine: "avx512" or "go".
func kernelName() string {
	if useAVX512 {
		return "avx512"
	}
	return "go"
}

// detectAVX512 checks CPUID for AVX-512F and XGETBV for the OS saving the
// opmask and ZMM state.
func detectAVX512() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	const xmmYmmZmm = 1<<1 | 1<<2 | 1<<5 | 1<<6 | 1<<7
	if xcr0, _ := xgetbv(); xcr0&xmmYmmZmm != xmmYmmZmm {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const avx512f = 1 << 16
	return ebx7&avx512f != 0
}

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

//go:noescape
func gemm8x8AVX512(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int)

//go:noescape
func dot4x4AVX512(k int, a *float64, lda int, b *float64, ldb int, c *[16]float64)

// gemm8x8 is gemm8x8Go, in AVX-512 where available. The bounds are checked
// here, once, because the assembly does not check them.
func gemm8x8(k int, a []float64, ars, acs int, b []float64, ldb int, c []float64, ldc int) {
	if !useAVX512 || k == 0 {
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
	if !useAVX512 || k8 == 0 {
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
