package tensor

import "fmt"

// Tensor is a dense float32 array: a shape and contiguous row-major data.
// Data may be a view into a larger allocation (an Arena); len(Data) always
// equals the product of Shape.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape. It panics with a ShapeError
// if a dimension is negative.
func New(shape ...int) *Tensor {
	n := Numel(shape)
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromSlice wraps data (not copied) in a tensor of the given shape. It panics
// with a ShapeError if len(data) differs from the product of shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	if n := Numel(shape); n != len(data) {
		panic(ShapeError{Op: "FromSlice", Msg: fmt.Sprintf("shape %v needs %d elements, have %d", shape, n, len(data))})
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel returns the product of shape; it panics with a ShapeError on a
// negative dimension.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(ShapeError{Op: "Numel", Msg: fmt.Sprintf("negative dimension in %v", shape)})
		}
		n *= d
	}
	return n
}

// Size returns the number of elements.
func (t *Tensor) Size() int { return len(t.Data) }

// Dim returns the size of axis i (negative i counts from the end).
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Reshape returns a view of the same data with a new shape. It panics with a
// ShapeError if the element counts differ.
func (t *Tensor) Reshape(shape ...int) *Tensor { return FromSlice(t.Data, shape...) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := New(t.Shape...)
	copy(c.Data, t.Data)
	return c
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeError is the panic value of this package's functions when called with
// inconsistent shapes or lengths: a programmer error inside Workbench, never a
// consequence of user input (which is validated at the boundary).
type ShapeError struct {
	Op  string
	Msg string
}

func (e ShapeError) Error() string { return "tensor: " + e.Op + ": " + e.Msg }
