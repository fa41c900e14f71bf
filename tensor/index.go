package tensor

import "fmt"

// offset returns the flat row-major index of the element at idx, whose
// length must equal the number of axes; it panics with a ShapeError naming
// op otherwise, or when an index is outside its axis.
func (t *Tensor) offset(op string, idx []int) int {
	if len(idx) != len(t.Shape) {
		panic(ShapeError{Op: op, Msg: fmt.Sprintf("%d indices for a tensor of shape %v", len(idx), t.Shape)})
	}
	return t.prefixOffset(op, idx)
}

// prefixOffset returns the flat index at which the sub-tensor t[idx...]
// starts, for len(idx) ≤ len(t.Shape); it panics with a ShapeError naming op
// when an index is outside its axis.
func (t *Tensor) prefixOffset(op string, idx []int) int {
	off := 0
	for i, x := range idx {
		if x < 0 || x >= t.Shape[i] {
			panic(ShapeError{Op: op, Msg: fmt.Sprintf("index %d is outside axis %d of shape %v", x, i, t.Shape)})
		}
		off = off*t.Shape[i] + x
	}
	for _, d := range t.Shape[len(idx):] {
		off *= d
	}
	return off
}

// At returns the element at idx, one index per axis: for a pattern
// [batch, head, query_pos, key_pos], p.At(b, h, q, k). It panics with a
// ShapeError if the number of indices differs from the number of axes or an
// index is outside its axis (a bug in the calling code, like an index out of
// range on a slice).
func (t *Tensor) At(idx ...int) float32 { return t.Data[t.offset("At", idx)] }

// Set stores v at idx, one index per axis. It panics with a ShapeError as At
// does.
func (t *Tensor) Set(v float32, idx ...int) { t.Data[t.offset("Set", idx)] = v }

// Sub returns the sub-tensor t[idx...] for a prefix of the axes: a view
// (sharing Data, so writes to either show in both) of shape
// t.Shape[len(idx):]. For a pattern [batch, head, query_pos, key_pos],
// p.Sub(b, h) is head h's [query_pos, key_pos] matrix. Sub with no indices
// returns a view of the whole tensor. It panics with a ShapeError if there
// are more indices than axes or an index is outside its axis.
func (t *Tensor) Sub(idx ...int) *Tensor {
	if len(idx) > len(t.Shape) {
		panic(ShapeError{Op: "Sub", Msg: fmt.Sprintf("%d indices for a tensor of shape %v", len(idx), t.Shape)})
	}
	shape := t.Shape[len(idx):]
	off := t.prefixOffset("Sub", idx)
	n := Numel(shape)
	return &Tensor{Shape: append([]int(nil), shape...), Data: t.Data[off : off+n : off+n]}
}

// Row returns the innermost row at idx, one index per axis but the last: a
// slice of length t.Shape[len-1] aliasing Data. For logits [batch, pos,
// d_vocab_out], l.Row(b, p) is the next-token logits at sequence b, position
// p. It panics with a ShapeError if len(idx) is not one less than the number
// of axes or an index is outside its axis.
func (t *Tensor) Row(idx ...int) []float32 {
	if len(idx)+1 != len(t.Shape) {
		panic(ShapeError{Op: "Row", Msg: fmt.Sprintf("%d indices for the rows of a tensor of shape %v", len(idx), t.Shape)})
	}
	off := t.prefixOffset("Row", idx)
	n := t.Shape[len(idx)]
	return t.Data[off : off+n : off+n]
}
