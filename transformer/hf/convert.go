package hf

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mechinterp/workbench/transformer"
)

// conversion maps each TransformerLens parameter to the Hugging Face tensor
// (and the layout change) that fills it, and records which tensors of the
// file it reads, so that leftover tensors are errors. Tensors are read one
// at a time, straight into the parameter when the layout is the same, else
// into one scratch buffer reused for every tensor: loading holds the model
// and at most one tensor's copy (TestLoadPeakRSS).
type conversion struct {
	src     *source
	used    map[string]bool
	fills   map[string]func(dst []float32) error
	scratch []float32
}

func newConversion(src *source) *conversion {
	return &conversion{src: src, used: map[string]bool{}, fills: map[string]func(dst []float32) error{}}
}

// from fills the TransformerLens parameter tl from the tensor hf of the
// given shape through convert.
func (c *conversion) from(tl, hf string, shape []int, convert func(dst, x []float32)) {
	c.used[hf] = true
	c.fills[tl] = func(dst []float32) error {
		n := tensorLen(shape)
		c.scratch = slices.Grow(c.scratch[:0], n)[:n]
		if err := c.src.into(c.scratch, hf, shape...); err != nil {
			return err
		}
		convert(dst, c.scratch)
		return nil
	}
}

// same fills tl with hf's elements in the same order.
func (c *conversion) same(tl, hf string, shape ...int) {
	c.used[hf] = true
	c.fills[tl] = func(dst []float32) error { return c.src.into(dst, hf, shape...) }
}

// tensorLen returns the number of elements of a tensor of the given shape.
func tensorLen(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// heads fills tl [h, d, dh] from the nn.Linear weight hf [h·dh, d]: row
// hh·dh + j of hf is column j of head hh.
func (c *conversion) heads(tl, hf string, h, dh, d int) {
	c.from(tl, hf, []int{h * dh, d}, func(dst, w []float32) {
		for hh := range h {
			for i := range d {
				for j := range dh {
					dst[(hh*d+i)*dh+j] = w[(hh*dh+j)*d+i]
				}
			}
		}
	})
}

// zero leaves tl at zero: the architecture has no such parameter.
func (c *conversion) zero(tl string) { c.fills[tl] = func([]float32) error { return nil } }

// model checks that every tensor of the file was read (or is a buffer
// ignored reports) and builds the model.
func (c *conversion) model(arch string, cfg transformer.Config, ignored func(name string) bool) (*transformer.Model, error) {
	var errs []error
	for _, name := range c.src.names() {
		if !c.used[name] && !ignored(name) {
			errs = append(errs, fmt.Errorf("hf: unexpected tensor %q for this %s config", name, arch))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return transformer.FromParams(cfg, func(name string, shape []int, dst []float32) error {
		fill, ok := c.fills[name]
		if !ok {
			return fmt.Errorf("hf: %s conversion has no source for parameter %q", arch, name)
		}
		return fill(dst)
	})
}
