//go:build !purego && amd64

package tensor

//go:noescape
func addRowsAtAVX512(dst, src *float32, idx *int32, n, d int)

// addRowsAtAsm is the AVX-512 AddRowsAt when the CPU has it.
var addRowsAtAsm = hasAVX512()

func addRowsAt(dst, src []float32, idx []int32, d int) {
	if addRowsAtAsm {
		addRowsAtAVX512(&dst[0], &src[0], &idx[0], len(idx), d)
		return
	}
	addRowsAtGo(dst, src, idx, d)
}
