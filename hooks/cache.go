package hooks

import (
	"fmt"
	"strings"

	"github.com/mechinterp/workbench/tensor"
)

// Cache holds copies of activations (and gradients, under name + "_grad")
// captured during a run, in the order they were produced. It is not safe
// for concurrent use.
type Cache struct {
	acts  map[Name]*tensor.Tensor
	order []Name
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{acts: map[Name]*tensor.Tensor{}} }

// Capture returns a hook set that copies every activation for which filter
// returns true into a new cache. A nil filter matches all. Merge the set
// with other hooks to cache edited values (hooks run in order).
func Capture(filter func(Name) bool) (*Set, *Cache) {
	c := NewCache()
	return c.Hooks(filter), c
}

// CaptureWithGrads is Capture that also copies, during the backward pass,
// the gradient with respect to each matched activation, under
// name + "_grad".
func CaptureWithGrads(filter func(Name) bool) (*Set, *Cache) {
	c := NewCache()
	return c.HooksWithGrads(filter), c
}

// Hooks returns a set that captures activations into c, like Capture.
func (c *Cache) Hooks(filter func(Name) bool) *Set {
	if filter == nil {
		filter = All
	}
	return NewSet().AddMatch(filter, func(act *tensor.Tensor, n Name) *tensor.Tensor {
		c.Put(n, act.Clone())
		return nil
	})
}

// HooksWithGrads returns a set that captures activations and their
// gradients into c, like CaptureWithGrads.
func (c *Cache) HooksWithGrads(filter func(Name) bool) *Set {
	if filter == nil {
		filter = All
	}
	return c.Hooks(filter).AddBackwardMatch(filter, func(g *tensor.Tensor, n Name) *tensor.Tensor {
		c.Put(n.Grad(), g.Clone())
		return nil
	})
}

// Put stores t under name (replacing any earlier value). t is not copied.
func (c *Cache) Put(name Name, t *tensor.Tensor) {
	if _, ok := c.acts[name]; !ok {
		c.order = append(c.order, name)
	}
	c.acts[name] = t
}

// Get returns the tensor stored under name.
func (c *Cache) Get(name Name) (*tensor.Tensor, bool) {
	t, ok := c.acts[name]
	return t, ok
}

// Must returns the tensor stored under name, or an error naming what is
// missing and what the cache holds.
func (c *Cache) Must(name Name) (*tensor.Tensor, error) {
	if t, ok := c.acts[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("hooks: cache has no %q (it holds %d entries)", name, len(c.order))
}

// Names returns the cached names in the order they were captured.
func (c *Cache) Names() []Name { return append([]Name(nil), c.order...) }

// Len returns the number of cached tensors.
func (c *Cache) Len() int { return len(c.order) }

// PosAxis returns the position axis of the activation called name: 2 (the
// query axis) for attention scores and patterns, [batch, head, query_pos,
// key_pos]; 1 for everything else ([batch, pos, ...]).
func PosAxis(name Name) int {
	k := strings.TrimSuffix(name.Kind(), GradSuffix)
	if k == "attn.hook_attn_scores" || k == "attn.hook_pattern" {
		return 2
	}
	return 1
}

// SlicePos returns a new tensor holding only the given positions (in that
// order) of the cached activation called name, along its PosAxis.
func (c *Cache) SlicePos(name Name, positions []int) (*tensor.Tensor, error) {
	t, err := c.Must(name)
	if err != nil {
		return nil, err
	}
	axis := PosAxis(name)
	if len(t.Shape) <= axis {
		return nil, fmt.Errorf("hooks: %q has shape %v, no position axis %d", name, t.Shape, axis)
	}
	n := t.Shape[axis]
	for _, p := range positions {
		if p < 0 || p >= n {
			return nil, fmt.Errorf("hooks: position %d out of range [0, %d) for %q", p, n, name)
		}
	}
	outer := tensor.Numel(t.Shape[:axis])
	inner := tensor.Numel(t.Shape[axis+1:])
	shape := append([]int(nil), t.Shape...)
	shape[axis] = len(positions)
	out := tensor.New(shape...)
	for o := 0; o < outer; o++ {
		for i, p := range positions {
			copy(out.Data[(o*len(positions)+i)*inner:][:inner], t.Data[(o*n+p)*inner:][:inner])
		}
	}
	return out, nil
}

// Stack returns the named activations stacked along a new leading axis,
// [len(names), ...shape]. They must all have the same shape.
func (c *Cache) Stack(names []Name) (*tensor.Tensor, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("hooks: Stack of no names")
	}
	first, err := c.Must(names[0])
	if err != nil {
		return nil, err
	}
	out := tensor.New(append([]int{len(names)}, first.Shape...)...)
	n := first.Size()
	for i, name := range names {
		t, err := c.Must(name)
		if err != nil {
			return nil, err
		}
		if !tensor.SameShape(t.Shape, first.Shape) {
			return nil, fmt.Errorf("hooks: Stack: %q has shape %v, %q has %v", name, t.Shape, names[0], first.Shape)
		}
		copy(out.Data[i*n:(i+1)*n], t.Data)
	}
	return out, nil
}

// StackLayers stacks the activation produced by name(l) for l = 0..n-1,
// for example c.StackLayers(hooks.ResidPost, nLayers).
func (c *Cache) StackLayers(name func(l int) Name, n int) (*tensor.Tensor, error) {
	names := make([]Name, n)
	for l := range names {
		names[l] = name(l)
	}
	return c.Stack(names)
}
