package tensor

import (
	"errors"
	"testing"
)

// iota3 returns a [2, 3, 4] tensor whose elements count 0, 1, 2, ... in
// row-major order.
func iota3() *Tensor {
	t := New(2, 3, 4)
	for i := range t.Data {
		t.Data[i] = float32(i)
	}
	return t
}

func TestAtWalksRowMajor(t *testing.T) {
	x := iota3()
	want := float32(0)
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				if got := x.At(i, j, k); got != want {
					t.Fatalf("At(%d, %d, %d) = %v, want %v", i, j, k, got, want)
				}
				want++
			}
		}
	}
}

func TestSetWritesWhereAtReads(t *testing.T) {
	x := New(2, 3, 4)
	x.Set(7, 1, 2, 3)
	if got := x.At(1, 2, 3); got != 7 {
		t.Errorf("At(1, 2, 3) after Set = %v, want 7", got)
	}
	if got := x.Data[len(x.Data)-1]; got != 7 {
		t.Errorf("last element = %v, want 7 (Set(1, 2, 3) on [2, 3, 4] is the last one)", got)
	}
	for i, v := range x.Data[:len(x.Data)-1] {
		if v != 0 {
			t.Errorf("Data[%d] = %v, want 0: Set wrote elsewhere", i, v)
		}
	}
}

func TestSubAndRowAreViews(t *testing.T) {
	x := iota3()
	s := x.Sub(1)
	if !SameShape(s.Shape, []int{3, 4}) {
		t.Fatalf("Sub(1).Shape = %v, want [3 4]", s.Shape)
	}
	if got, want := s.At(2, 1), x.At(1, 2, 1); got != want {
		t.Errorf("Sub(1).At(2, 1) = %v, want x.At(1, 2, 1) = %v", got, want)
	}
	s.Set(-1, 0, 0)
	if got := x.At(1, 0, 0); got != -1 {
		t.Errorf("x.At(1, 0, 0) after writing through Sub = %v, want -1 (a view)", got)
	}
	if got := x.Sub(); !SameShape(got.Shape, x.Shape) || &got.Data[0] != &x.Data[0] {
		t.Errorf("Sub() = shape %v, want a view of the whole %v", got.Shape, x.Shape)
	}
	if got := x.Sub(0, 2, 3); len(got.Shape) != 0 || len(got.Data) != 1 || got.Data[0] != x.At(0, 2, 3) {
		t.Errorf("Sub(0, 2, 3) = %v %v, want the scalar %v", got.Shape, got.Data, x.At(0, 2, 3))
	}

	r := x.Row(0, 1)
	if len(r) != 4 || cap(r) != 4 {
		t.Fatalf("Row(0, 1) has len %d cap %d, want 4 and 4 (no access past the row)", len(r), cap(r))
	}
	for k := range r {
		if r[k] != x.At(0, 1, k) {
			t.Errorf("Row(0, 1)[%d] = %v, want At(0, 1, %d) = %v", k, r[k], k, x.At(0, 1, k))
		}
	}
	r[3] = 100
	if got := x.At(0, 1, 3); got != 100 {
		t.Errorf("x.At(0, 1, 3) after writing through Row = %v, want 100 (a view)", got)
	}
}

func TestIndexPanicsWithShapeError(t *testing.T) {
	x := iota3()
	cases := []struct {
		name string
		call func()
	}{
		{"At too few", func() { x.At(0, 0) }},
		{"At too many", func() { x.At(0, 0, 0, 0) }},
		{"At negative", func() { x.At(0, -1, 0) }},
		{"At past the end", func() { x.At(0, 3, 0) }},
		{"Set past the end", func() { x.Set(1, 2, 0, 0) }},
		{"Sub too many", func() { x.Sub(0, 0, 0, 0) }},
		{"Sub out of range", func() { x.Sub(0, 4) }},
		{"Row too many", func() { x.Row(0, 0, 0) }},
		{"Row too few", func() { x.Row(0) }},
		{"Row out of range", func() { x.Row(1, -1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				var se ShapeError
				if !ok || !errors.As(err, &se) {
					t.Errorf("recovered %v (%T), want a ShapeError", r, r)
				}
			}()
			c.call()
		})
	}
}
