//go:build !purego && amd64

package tensor

//go:noescape
func embedPosAVX512(dst, table, pos *float32, tokens *int32, batch, npos, n int)

// embedPosAsm is the AVX-512 EmbedPos when the CPU has it.
var embedPosAsm = hasAVX512()

func embedPos(dst, table, pos []float32, tokens []int32, batch, npos, n int) {
	if embedPosAsm {
		embedPosAVX512(&dst[0], &table[0], &pos[0], &tokens[0], batch, npos, n)
		return
	}
	embedPosGo(dst, table, pos, tokens, batch, npos, n)
}
