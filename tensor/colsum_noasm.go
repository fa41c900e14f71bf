//go:build purego || !amd64

package tensor

func colSumAdd(dst, a []float32, rows, lda int) { colSumAddGo(dst, a, rows, lda) }
