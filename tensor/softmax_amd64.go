//go:build !purego && amd64

package tensor

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func scaleAVX512(x *float32, n int, alpha float32)

// softmaxRowAsm is the AVX-512 SoftmaxRow when the CPU has it.
var softmaxRowAsm = hasAVX512()

// softmaxRow is softmaxRowGo with the maximum and the scaling in ZMM
// registers and ExpShift's AVX-512 kernel between them: the same bits.
func softmaxRow(dst, x []float32) (m float32, s float64) {
	if !softmaxRowAsm {
		return softmaxRowGo(dst, x)
	}
	m = maxAVX512(&x[0], len(x))
	if m < -maxFloat32 { // −Inf
		clear(dst)
		return m, 0
	}
	s = expShiftAVX512(&dst[0], &x[0], len(x), m, &expPow2[0])
	scaleAVX512(&dst[0], len(dst), float32(1/s))
	return m, s
}

const maxFloat32 = 0x1p127 * (1 + (1 - 0x1p-23))
