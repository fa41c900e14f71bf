//go:build purego || !amd64

package tensor

func addRowsAt(dst, src []float32, idx []int32, d int) { addRowsAtGo(dst, src, idx, d) }
