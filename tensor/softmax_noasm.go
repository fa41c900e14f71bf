//go:build purego || !amd64

package tensor

func softmaxRow(dst, x []float32) (m float32, s float64) { return softmaxRowGo(dst, x) }
