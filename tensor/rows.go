package tensor

import "fmt"

// AddRowsAt adds each row of src [len(idx), d] to row idx[i] of dst
// [rows, d], in order: dst[idx[i]·d + j] += src[i·d + j] — the gradient of
// a table lookup (an embedding's backward, PyTorch's index_add_). Rows of
// dst may repeat in idx; each addition is a float32 add, so the result is
// the same whatever the kernel. It panics with a ShapeError if d < 1, src
// is too short, or an index is outside dst's rows.
func AddRowsAt(dst, src []float32, idx []int32, d int) {
	if d < 1 || len(src) < len(idx)*d {
		panic(ShapeError{Op: "AddRowsAt", Msg: fmt.Sprintf("d = %d, src has %d elements for %d rows", d, len(src), len(idx))})
	}
	rows := len(dst) / d
	for _, t := range idx {
		if t < 0 || int(t) >= rows {
			panic(ShapeError{Op: "AddRowsAt", Msg: fmt.Sprintf("row %d outside [0, %d)", t, rows)})
		}
	}
	if len(idx) == 0 {
		return
	}
	addRowsAt(dst, src, idx, d)
}

// addRowsAtGo is the portable AddRowsAt (arguments checked) and the
// reference for the AVX-512 kernel.
func addRowsAtGo(dst, src []float32, idx []int32, d int) {
	for i, t := range idx {
		di, si := dst[int(t)*d:int(t)*d+d], src[i*d:i*d+d]
		for j, v := range si {
			di[j] += v
		}
	}
}
