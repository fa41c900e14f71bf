package nn

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mechinterp/workbench/checkpoint"
)

// StateDict returns every tensor of ps, in order, as a state-dict entry in
// its state-dict layout (copies).
func StateDict(ps ...*Params) []checkpoint.Tensor {
	var out []checkpoint.Tensor
	for _, p := range ps {
		for i, s := range p.specs {
			data := slices.Clone(p.View(i))
			if s.Layout != nil {
				s.Layout.ToDict(data, p.View(i))
			}
			out = append(out, checkpoint.Tensor{Name: s.Name, Shape: slices.Clone(s.Shape), Data: data})
		}
	}
	return out
}

// LoadStateDict overwrites every tensor of ps in place with the entry of f
// of the same name, converted to float32 and to its memory layout; views of
// ps stay valid. Missing and mis-shaped tensors, and entries of f that no
// tensor of ps has and ignore (nil: none) does not accept, are errors
// naming the tensor, joined. On error ps may be partly overwritten.
func LoadStateDict(f *checkpoint.File, ignore func(name string) bool, ps ...*Params) error {
	want := map[string]bool{}
	var errs []error
	var buf []float32
	for _, p := range ps {
		for i, s := range p.specs {
			want[s.Name] = true
			info, ok := f.Info(s.Name)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("missing tensor %q (shape %v)", s.Name, s.Shape))
				continue
			case !slices.Equal(info.Shape, s.Shape):
				errs = append(errs, fmt.Errorf("tensor %q: want shape %v, got %v", s.Name, s.Shape, info.Shape))
				continue
			}
			dst := p.View(i)
			if s.Layout == nil {
				if err := f.Float32Into(dst, s.Name, s.Shape); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			buf = slices.Grow(buf[:0], len(dst))[:len(dst)]
			if err := f.Float32Into(buf, s.Name, s.Shape); err != nil {
				errs = append(errs, err)
				continue
			}
			s.Layout.FromDict(dst, buf)
		}
	}
	for _, info := range f.Tensors() {
		if !want[info.Name] && (ignore == nil || !ignore(info.Name)) {
			errs = append(errs, fmt.Errorf("unexpected tensor %q (shape %v) for this config", info.Name, info.Shape))
		}
	}
	return errors.Join(errs...)
}
