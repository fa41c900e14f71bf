//go:build !purego && amd64

package tensor

//go:noescape
func expShiftAVX512(dst, x *float32, n int, shift float32, table *uint32) float64

// expShiftAsm is the AVX-512 ExpShift when the CPU has it.
var expShiftAsm = hasAVX512()

func expShift(dst, x []float32, shift float32) float64 {
	if expShiftAsm && len(x) > 0 {
		return expShiftAVX512(&dst[0], &x[0], len(x), shift, &expPow2[0])
	}
	return expShiftGo(dst, x, shift)
}
