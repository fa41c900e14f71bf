package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddRowsAt checks AddRowsAt bit for bit against the portable loop,
// with repeated indices (which must accumulate in order) and every tail,
// and that rows not indexed are untouched.
func TestAddRowsAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	for _, d := range []int{1, 3, 15, 16, 17, 40, 64, 100, 1031} {
		const rows, n = 7, 50
		dst := randMat(rng, rows, d, d)
		src := randMat(rng, n, d, d)
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(rng.IntN(rows - 1)) // the last row is never indexed
		}
		want := append([]float32(nil), dst...)
		addRowsAtGo(want, src, idx, d)
		got := append([]float32(nil), dst...)
		AddRowsAt(got, src, idx, d)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("d=%d: dst[%d] = %v, want %v", d, i, got[i], want[i])
			}
		}
		for j := range d {
			if got[(rows-1)*d+j] != dst[(rows-1)*d+j] {
				t.Fatalf("d=%d: an unindexed row changed", d)
			}
		}
	}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"index out of range", func() { AddRowsAt(make([]float32, 4), make([]float32, 2), []int32{2}, 2) }},
		{"negative index", func() { AddRowsAt(make([]float32, 4), make([]float32, 2), []int32{-1}, 2) }},
		{"short src", func() { AddRowsAt(make([]float32, 4), make([]float32, 1), []int32{0}, 2) }},
	} {
		func() {
			defer func() {
				if _, ok := recover().(ShapeError); !ok {
					t.Errorf("%s: no ShapeError", c.name)
				}
			}()
			c.f()
		}()
	}
	AddRowsAt(nil, nil, nil, 3) // nothing to add
}
