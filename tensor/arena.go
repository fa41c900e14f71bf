package tensor

// Arena hands out views of one float32 allocation, so that a model's
// parameters, gradients or activations are laid out once and a training step
// allocates nothing.
//
// Use it in two passes with the same sequence of requests: a counting pass on
// an arena from NewPlan, then the real pass on NewArena(plan.Len()):
//
//	plan := tensor.NewPlan()
//	layout(plan)              // calls plan.Alloc(...) in order
//	a := tensor.NewArena(plan.Len())
//	layout(a)                 // the same calls, now backed by memory
type Arena struct {
	buf  []float32
	off  int
	plan bool
}

// NewArena returns an arena backed by n zeroed float32s.
func NewArena(n int) *Arena { return &Arena{buf: make([]float32, n)} }

// NewPlan returns a counting arena: Alloc returns tensors whose Data is nil
// (but whose Shape is set) and Len reports the total requested.
func NewPlan() *Arena { return &Arena{plan: true} }

// Alloc returns the next numel(shape) elements as a tensor. It panics with a
// ShapeError if the arena is exhausted (a layout bug: plan and real pass
// disagree).
func (a *Arena) Alloc(shape ...int) *Tensor {
	n := Numel(shape)
	t := &Tensor{Shape: append([]int(nil), shape...)}
	if !a.plan {
		if a.off+n > len(a.buf) {
			panic(ShapeError{Op: "Arena.Alloc", Msg: "arena exhausted: plan and layout disagree"})
		}
		t.Data = a.buf[a.off : a.off+n : a.off+n]
	}
	a.off += n
	return t
}

// Len returns the number of elements handed out so far.
func (a *Arena) Len() int { return a.off }

// Data returns the whole backing slice (nil for a plan). Zeroing it zeroes
// every tensor handed out.
func (a *Arena) Data() []float32 { return a.buf }
