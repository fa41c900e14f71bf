package optim

import "fmt"

// Optimizer is what a training loop needs from SGD and Adam: a step with the
// learning rate chosen for it, the number of steps taken, and the state for
// exact resume.
type Optimizer interface {
	// Step updates every parameter in place from its gradient with
	// learning rate lr and increments the step count. It allocates nothing.
	// lr is a float64, as a Schedule returns it, because the per-step
	// scalars derived from it are computed in float64, as in PyTorch.
	Step(lr float64)
	// Steps returns the number of steps taken (or loaded by LoadState).
	Steps() int
	// State returns the optimizer's buffers as named views, in a fixed
	// order; see StateTensor.
	State() []StateTensor
	// LoadState restores a step count and buffers exported by State.
	LoadState(steps int, state []StateTensor) error
}

// StateTensor is one named optimizer buffer, flat, with the length of the
// parameter it belongs to. Names are "<optimizer>.<buffer>/<param name>":
// "sgd.momentum/…", "adam.m/…" (first moment, PyTorch's exp_avg) and
// "adam.v/…" (second moment, exp_avg_sq).
type StateTensor struct {
	Name string
	Data []float32
}

// slots is an optimizer's per-parameter state: kind-major named buffers, all
// views of one allocation made at construction.
type slots struct {
	names []string
	bufs  [][]float32
}

// newSlots lays out one zeroed buffer per (kind, param), kind-major: the
// buffers of kinds[k] are bufs[k*len(params) : (k+1)*len(params)].
func newSlots(params []Param, kinds ...string) slots {
	n := 0
	for _, p := range params {
		n += len(p.Data)
	}
	mem := make([]float32, n*len(kinds))
	s := slots{
		names: make([]string, 0, len(kinds)*len(params)),
		bufs:  make([][]float32, 0, len(kinds)*len(params)),
	}
	off := 0
	for _, k := range kinds {
		for _, p := range params {
			end := off + len(p.Data)
			s.names = append(s.names, k+"/"+p.Name)
			s.bufs = append(s.bufs, mem[off:end:end])
			off = end
		}
	}
	return s
}

// kind returns the buffers of the k-th kind given to newSlots.
func (s slots) kind(k, nParams int) [][]float32 {
	return s.bufs[k*nParams : (k+1)*nParams]
}

// export returns the buffers as StateTensors: views, not copies.
func (s slots) export() []StateTensor {
	out := make([]StateTensor, len(s.names))
	for i, name := range s.names {
		out[i] = StateTensor{Name: name, Data: s.bufs[i]}
	}
	return out
}

// load checks that state holds exactly the expected names with the expected
// lengths, in any order, and only then copies it in. On error nothing is
// written.
func (s slots) load(steps int, state []StateTensor) error {
	if steps < 0 {
		return fmt.Errorf("%w: negative step count %d", ErrState, steps)
	}
	index := make(map[string]int, len(s.names))
	for i, name := range s.names {
		index[name] = i
	}
	src := make([][]float32, len(s.names))
	for _, st := range state {
		i, ok := index[st.Name]
		if !ok {
			return fmt.Errorf("%w: unknown tensor %q", ErrState, st.Name)
		}
		if src[i] != nil {
			return fmt.Errorf("%w: duplicate tensor %q", ErrState, st.Name)
		}
		if want := len(s.bufs[i]); len(st.Data) != want {
			return fmt.Errorf("%w: tensor %q has %d elements, want %d", ErrState, st.Name, len(st.Data), want)
		}
		src[i] = st.Data
		if src[i] == nil { // a zero-length parameter's buffer
			src[i] = []float32{}
		}
	}
	for i, name := range s.names {
		if src[i] == nil {
			return fmt.Errorf("%w: missing tensor %q", ErrState, name)
		}
	}
	for i := range src {
		copy(s.bufs[i], src[i])
	}
	return nil
}
