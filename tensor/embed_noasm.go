//go:build purego || !amd64

package tensor

func embedPos(dst, table, pos []float32, tokens []int32, batch, npos, n int) {
	embedPosGo(dst, table, pos, tokens, batch, npos, n)
}
