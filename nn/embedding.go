package nn

import (
	"fmt"

	"github.com/mechinterp/workbench/tensor"
)

// EmbedForward looks tokens up in an embedding table (TransformerLens's
// embed.W_E): y[i, :] = table[tokens[i], :], with y [len(tokens), d] and
// table [d_vocab, d], d_vocab = len(table)/d. y is overwritten.
//
// Token ids come from outside the process and must be validated by the
// caller (against d_vocab) before they reach this function; an id outside
// [0, d_vocab) is a programmer error and panics with a tensor.ShapeError, as
// does a slice shorter than its shape.
func EmbedForward(y []float32, tokens []int32, table []float32, d int) {
	lenAtLeast("EmbedForward", "len(y)", len(y), len(tokens)*d)
	vocab := vocabSize("EmbedForward", table, d)
	for i, tok := range tokens {
		checkToken("EmbedForward", tok, vocab)
		t := int(tok)
		copy(y[i*d:(i+1)*d], table[t*d:(t+1)*d])
	}
}

// EmbedBackward scatter-adds the output gradient dy [len(tokens), d] into the
// table gradient dtable [d_vocab, d]: dtable[tokens[i], :] += dy[i, :], so
// repeated tokens accumulate. Like EmbedForward it panics with a
// tensor.ShapeError on an id outside [0, d_vocab) (d_vocab = len(dtable)/d) or
// on a slice shorter than its shape.
func EmbedBackward(dtable, dy []float32, tokens []int32, d int) {
	lenAtLeast("EmbedBackward", "len(dy)", len(dy), len(tokens)*d)
	vocab := vocabSize("EmbedBackward", dtable, d)
	for i, tok := range tokens {
		checkToken("EmbedBackward", tok, vocab)
		t := int(tok)
		tensor.Axpy(1, dy[i*d:(i+1)*d], dtable[t*d:(t+1)*d])
	}
}

// PosEmbedForward writes the learned positional embedding (TransformerLens's
// pos_embed.W_pos) for every sequence of a batch: y[b, p, :] = wpos[p, :],
// with y [batch, pos, d] and wpos [n_ctx, d], n_ctx ≥ pos. y is overwritten.
// It panics with a tensor.ShapeError if a slice is shorter than its shape.
func PosEmbedForward(y, wpos []float32, batch, pos, d int) {
	n := pos * d
	lenAtLeast("PosEmbedForward", "len(wpos)", len(wpos), n)
	lenAtLeast("PosEmbedForward", "len(y)", len(y), batch*n)
	for b := range batch {
		copy(y[b*n:(b+1)*n], wpos[:n])
	}
}

// PosEmbedBackward accumulates the gradient of PosEmbedForward: dwpos[p, :]
// += Σ_b dy[b, p, :], with dy [batch, pos, d] and dwpos [n_ctx, d], n_ctx ≥
// pos. It panics with a tensor.ShapeError if a slice is shorter than its
// shape.
func PosEmbedBackward(dwpos, dy []float32, batch, pos, d int) {
	n := pos * d
	lenAtLeast("PosEmbedBackward", "len(dwpos)", len(dwpos), n)
	lenAtLeast("PosEmbedBackward", "len(dy)", len(dy), batch*n)
	for b := range batch {
		tensor.Axpy(1, dy[b*n:(b+1)*n], dwpos[:n])
	}
}

// vocabSize returns the number of rows of a [rows, d] table; it panics with a
// tensor.ShapeError if d is not positive.
func vocabSize(op string, table []float32, d int) int {
	if d <= 0 {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("d = %d, need a positive width", d)})
	}
	return len(table) / d
}

// checkToken panics with a tensor.ShapeError if tok is not in [0, vocab).
func checkToken(op string, tok int32, vocab int) {
	if tok < 0 || int(tok) >= vocab {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("token id %d outside [0, %d)", tok, vocab)})
	}
}
