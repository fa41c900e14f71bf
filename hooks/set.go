package hooks

import (
	"fmt"

	"github.com/mechinterp/workbench/tensor"
)

// Func is a hook. It receives the activation (or, for a backward hook, the
// gradient with respect to it) at the named point. It may read it, edit
// act.Data in place, or return a replacement of the same shape, which is
// copied into the model's buffer; returning nil or act keeps the (possibly
// edited) value. The tensor is only valid during the call: copy what you
// keep (Clone). A hook must not change act.Shape.
type Func func(act *tensor.Tensor, name Name) *tensor.Tensor

// Set holds forward and backward hooks for one call. The zero value and a
// nil *Set are empty sets. Hooks run in the order they were added.
type Set struct {
	fwd, bwd []entry
}

type entry struct {
	name  Name
	match func(Name) bool // nil: exact name match
	fn    Func
}

func (e entry) matches(n Name) bool {
	if e.match != nil {
		return e.match(n)
	}
	return e.name == n
}

// NewSet returns an empty hook set.
func NewSet() *Set { return &Set{} }

// Add adds a forward hook on the point called name and returns s.
func (s *Set) Add(name Name, fn Func) *Set {
	s.fwd = append(s.fwd, entry{name: name, fn: fn})
	return s
}

// AddMatch adds a forward hook on every point for which match returns true
// and returns s.
func (s *Set) AddMatch(match func(Name) bool, fn Func) *Set {
	s.fwd = append(s.fwd, entry{match: match, fn: fn})
	return s
}

// AddBackward adds a backward hook, which sees the gradient with respect to
// the activation called name, and returns s.
func (s *Set) AddBackward(name Name, fn Func) *Set {
	s.bwd = append(s.bwd, entry{name: name, fn: fn})
	return s
}

// AddBackwardMatch adds a backward hook on every point for which match
// returns true and returns s.
func (s *Set) AddBackwardMatch(match func(Name) bool, fn Func) *Set {
	s.bwd = append(s.bwd, entry{match: match, fn: fn})
	return s
}

// Merge returns a new set running s's hooks, then o's, for each point.
// Either may be nil.
func Merge(sets ...*Set) *Set {
	out := &Set{}
	for _, s := range sets {
		if s != nil {
			out.fwd = append(out.fwd, s.fwd...)
			out.bwd = append(out.bwd, s.bwd...)
		}
	}
	return out
}

// Empty reports whether s has no hooks at all.
func (s *Set) Empty() bool { return s == nil || len(s.fwd)+len(s.bwd) == 0 }

// HasForward reports whether any forward hook matches name.
func (s *Set) HasForward(name Name) bool { return s != nil && anyMatch(s.fwd, name) }

// HasBackward reports whether any backward hook matches name.
func (s *Set) HasBackward(name Name) bool { return s != nil && anyMatch(s.bwd, name) }

// AnyBackward reports whether s has backward hooks.
func (s *Set) AnyBackward() bool { return s != nil && len(s.bwd) > 0 }

func anyMatch(es []entry, name Name) bool {
	for _, e := range es {
		if e.matches(name) {
			return true
		}
	}
	return false
}

// RunForward runs the forward hooks matching name on act, in order. It
// returns an error if a hook returns a replacement of another shape.
// Models call it; users normally do not.
func (s *Set) RunForward(name Name, act *tensor.Tensor) error {
	if s == nil {
		return nil
	}
	return run(s.fwd, name, act)
}

// RunBackward runs the backward hooks matching name on grad, the gradient
// with respect to the activation called name. Models call it.
func (s *Set) RunBackward(name Name, grad *tensor.Tensor) error {
	if s == nil {
		return nil
	}
	return run(s.bwd, name, grad)
}

func run(es []entry, name Name, act *tensor.Tensor) error {
	for _, e := range es {
		if !e.matches(name) {
			continue
		}
		r := e.fn(act, name)
		if r == nil || r == act {
			continue
		}
		if !tensor.SameShape(r.Shape, act.Shape) || len(r.Data) != len(act.Data) {
			return fmt.Errorf("hooks: hook on %q returned shape %v, want %v", name, r.Shape, act.Shape)
		}
		copy(act.Data, r.Data)
	}
	return nil
}

// All matches every hook point.
func All(Name) bool { return true }

// Names returns a predicate matching exactly the given names.
func Names(names ...Name) func(Name) bool {
	set := make(map[Name]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return func(n Name) bool { return set[n] }
}
