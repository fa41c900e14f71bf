package cnn

import (
	"fmt"
	"math"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Edit is the one activation edit of this package,
//
//	out = x·(1 − A) + R·A
//
// with a mask A and a replacement R. It expresses
//
//	zero-ablation        A = UnitMask(c, units...), R = Zero()
//	mean-ablation        R = Mean(Means(reference, false)) or BatchMean()
//	unit insertion       R = Constant(v) on the chosen units (and pixels)
//	activation patching  R = Cached(activation from another run)
//
// A fractional A blends (interpolation between runs).
type Edit struct {
	// A is [C] (one weight per unit, the same at every pixel) or [C, H, W]
	// (per unit and pixel), broadcast over the batch. Where A is exactly 1
	// the output is exactly R; where it is 0, exactly x.
	A []float32
	R Replacement
}

// Replacement is R in an Edit. Build one with Zero, Constant, Mean,
// BatchMean or Cached.
type Replacement struct {
	kind  replKind
	value float32
	t     []float32
}

type replKind uint8

const (
	replZero replKind = iota
	replConst
	replMean
	replBatchMean
	replCached
)

// Zero replaces by 0.
func Zero() Replacement { return Replacement{kind: replZero} }

// Constant replaces by v.
func Constant(v float32) Replacement { return Replacement{kind: replConst, value: v} }

// Mean replaces by fixed means, [C] per unit or [C, H, W] per unit and
// pixel, typically Means of a reference batch's cached activation. The
// slice is not copied.
func Mean(means []float32) Replacement { return Replacement{kind: replMean, t: means} }

// BatchMean replaces each unit by its mean over the current batch and all
// pixels, computed from the activation being edited.
func BatchMean() Replacement { return Replacement{kind: replBatchMean} }

// Cached replaces by a recorded activation: of the same shape as the edited
// one (patching example by example), or of one example ([C, H, W], [C] or
// with a leading 1), broadcast over the batch. The tensor is not copied. A
// cached batch of another size makes the hook's run fail with an error.
func Cached(t *tensor.Tensor) Replacement { return Replacement{kind: replCached, t: t.Data} }

// UnitMask returns the per-unit mask [c] that selects units (1) and leaves
// the others (0). Out-of-range units are ignored.
func UnitMask(c int, units ...int) []float32 {
	a := make([]float32, c)
	for _, u := range units {
		if u >= 0 && u < c {
			a[u] = 1
		}
	}
	return a
}

// Means returns the mean of an activation t [N, C, ...] over the batch and,
// unless perPixel, over the pixels: [C] or [C·H·W], for Mean.
func Means(t *tensor.Tensor, perPixel bool) []float32 {
	n, c := t.Shape[0], 1
	if len(t.Shape) > 1 {
		c = t.Shape[1]
	}
	per := len(t.Data) / max(n, 1)
	p := per / c
	out := make([]float32, c)
	if perPixel {
		out = make([]float32, per)
	}
	sums := make([]float64, len(out))
	for b := range n {
		for i, v := range t.Data[b*per : (b+1)*per] {
			if perPixel {
				sums[i] += float64(v)
			} else {
				sums[i/p] += float64(v)
			}
		}
	}
	count := float64(n)
	if !perPixel {
		count *= float64(p)
	}
	for i, s := range sums {
		out[i] = float32(s / count)
	}
	return out
}

// EditHook returns e as a forward hook for the point called name of m,
// checked against the point's shape. Use it with hooks.NewSet().Add(name, f).
func (m *Model) EditHook(name hooks.Name, e Edit) (hooks.Func, error) {
	s, ok := m.PointShape(name)
	if !ok {
		_, err := m.ParseHook(string(name))
		return nil, err
	}
	return NewEdit(s, e)
}

// NewEdit returns e as a forward hook for activations whose per-example
// shape is shape ([C, H, W], or [C] for vectors; the batch comes first in
// the activation). It returns an error if the mask or a fixed replacement
// does not fit the shape or holds a non-finite value. The hook allocates
// nothing and is safe for concurrent use.
func NewEdit(shape []int, e Edit) (hooks.Func, error) {
	if len(shape) == 0 || tensor.Numel(shape) == 0 {
		return nil, fmt.Errorf("cnn: edit: empty activation shape %v", shape)
	}
	c, p := shape[0], tensor.Numel(shape[1:])
	perPixel := len(e.A) == c*p && p > 1
	if len(e.A) != c && !perPixel {
		return nil, fmt.Errorf("cnn: edit: mask has %d values; want %d (per unit) or %d (per unit and pixel) for shape %v", len(e.A), c, c*p, shape)
	}
	if err := finite("mask", e.A); err != nil {
		return nil, err
	}
	r := e.R
	switch r.kind {
	case replMean:
		if len(r.t) != c && len(r.t) != c*p {
			return nil, fmt.Errorf("cnn: edit: mean has %d values; want %d or %d for shape %v", len(r.t), c, c*p, shape)
		}
		if err := finite("mean", r.t); err != nil {
			return nil, err
		}
	case replConst:
		if err := finite("constant", []float32{r.value}); err != nil {
			return nil, err
		}
	case replCached:
		if len(r.t) == 0 || len(r.t)%(c*p) != 0 {
			return nil, fmt.Errorf("cnn: edit: cached activation has %d values, not a whole number of %v examples", len(r.t), shape)
		}
	}
	return func(act *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		per := c * p
		n := len(act.Data) / per
		if r.kind == replCached && len(r.t) != per && len(r.t) != len(act.Data) {
			// The cached batch does not match: returning a tensor of its
			// shape makes hooks.Set report the mismatch as an error.
			return tensor.FromSlice(r.t, len(r.t))
		}
		for ch := range c {
			var batchMean float32
			if r.kind == replBatchMean {
				var s float64
				for b := range n {
					for _, v := range act.Data[(b*c+ch)*p : (b*c+ch+1)*p] {
						s += float64(v)
					}
				}
				batchMean = float32(s / float64(n*p))
			}
			for b := range n {
				o := (b*c + ch) * p
				xs := act.Data[o : o+p]
				for i, x := range xs {
					a := e.A[ch]
					if perPixel {
						a = e.A[ch*p+i]
					}
					if a == 0 {
						continue
					}
					var rv float32
					switch r.kind {
					case replConst:
						rv = r.value
					case replMean:
						rv = r.t[ch]
						if len(r.t) > c {
							rv = r.t[ch*p+i]
						}
					case replBatchMean:
						rv = batchMean
					case replCached:
						rv = r.t[(o+i)%len(r.t)]
					}
					if a == 1 {
						xs[i] = rv
					} else {
						xs[i] = x*(1-a) + rv*a
					}
				}
			}
		}
		return nil
	}, nil
}

func finite(what string, x []float32) error {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("cnn: edit: %s[%d] = %v is not finite", what, i, v)
		}
	}
	return nil
}
