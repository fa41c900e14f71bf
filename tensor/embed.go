package tensor

import "fmt"

// EmbedPos writes, for every sequence b < batch and position p < npos,
//
//	dst[b, p, :] = table[tokens[b·npos + p], :] + pos[p, :]
//
// with rows of n floats: a token embedding plus a positional one
// (TransformerLens's embed + pos_embed), or any pair of tables indexed the
// same way. It panics with a ShapeError if n < 1, a slice is too short, or
// a token is outside table's rows.
func EmbedPos(dst, table, pos []float32, tokens []int32, batch, npos, n int) {
	rows := batch * npos
	if n < 1 || batch < 0 || npos < 0 || len(tokens) < rows || len(dst) < rows*n || len(pos) < npos*n {
		panic(ShapeError{Op: "EmbedPos", Msg: fmt.Sprintf("batch %d × pos %d × %d: dst %d, pos %d, tokens %d elements", batch, npos, n, len(dst), len(pos), len(tokens))})
	}
	vocab := len(table) / n
	for _, t := range tokens[:rows] {
		if t < 0 || int(t) >= vocab {
			panic(ShapeError{Op: "EmbedPos", Msg: fmt.Sprintf("token %d outside [0, %d)", t, vocab)})
		}
	}
	if rows == 0 {
		return
	}
	embedPos(dst, table, pos, tokens, batch, npos, n)
}

// embedPosGo is the portable EmbedPos (arguments checked) and the
// reference for the AVX-512 kernel.
func embedPosGo(dst, table, pos []float32, tokens []int32, batch, npos, n int) {
	for r, t := range tokens[:batch*npos] {
		d, e, q := dst[r*n:r*n+n], table[int(t)*n:int(t)*n+n], pos[r%npos*n:r%npos*n+n]
		for j := range d {
			d[j] = e[j] + q[j]
		}
	}
}
