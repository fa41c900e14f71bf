//go:build !purego && amd64

package tensor

//go:noescape
func colSumAddAVX512(dst, a *float32, n, rows, lda int)

// colSumAsm is the AVX-512 ColSumAdd when the CPU has it.
var colSumAsm = hasAVX512()

func colSumAdd(dst, a []float32, rows, lda int) {
	if colSumAsm {
		colSumAddAVX512(&dst[0], &a[0], len(dst), rows, lda)
		return
	}
	colSumAddGo(dst, a, rows, lda)
}
