package patching

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// Kind is a kind of activation that can be patched or ablated. Each names
// one hook point per layer:
//
//	resid_pre   blocks.{l}.hook_resid_pre    [batch, pos, d_model]
//	resid_post  blocks.{l}.hook_resid_post   [batch, pos, d_model]
//	attn_out    blocks.{l}.hook_attn_out     [batch, pos, d_model]
//	mlp_out     blocks.{l}.hook_mlp_out      [batch, pos, d_model]   (models with MLPs)
//	head_out    blocks.{l}.attn.hook_z       [batch, pos, head, d_head]
//	q, k, v     blocks.{l}.attn.hook_q/k/v   [batch, pos, head, d_head]
//	pattern     blocks.{l}.attn.hook_pattern [batch, head, query_pos, key_pos]
//
// head_out patches a head's z: its output z·W_O[h] (hook_result) is linear
// in z, so this is the same intervention, and it keeps the model's fused
// output projection.
type Kind string

// The kinds of activation.
const (
	ResidPre  Kind = "resid_pre"
	ResidPost Kind = "resid_post"
	AttnOut   Kind = "attn_out"
	MLPOut    Kind = "mlp_out"
	HeadOut   Kind = "head_out"
	Q         Kind = "q"
	K         Kind = "k"
	V         Kind = "v"
	Pattern   Kind = "pattern"
)

// Kinds lists every Kind.
func Kinds() []Kind {
	return []Kind{ResidPre, ResidPost, AttnOut, MLPOut, HeadOut, Q, K, V, Pattern}
}

// ParseKind checks a kind typed by a user.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.TrimSpace(s))
	if slices.Contains(Kinds(), k) {
		return k, nil
	}
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("patching: unknown activation %q (want one of %s)", s, strings.Join(names, ", "))
}

// heads returns the number of heads of k's activation in a model of config
// c: n_key_value_heads for k and v (grouped-query attention shares them
// within each group of query heads), n_heads for the other per-head kinds,
// and 1 for the rest.
func (k Kind) heads(c transformer.Config) int {
	switch {
	case k == K || k == V:
		return c.NKeyValueHeads
	case k.PerHead():
		return c.NHeads
	}
	return 1
}

// PerHead reports whether k has one activation per attention head.
func (k Kind) PerHead() bool {
	switch k {
	case HeadOut, Q, K, V, Pattern:
		return true
	}
	return false
}

// Hook returns the hook point of kind k in layer l.
func (k Kind) Hook(l int) hooks.Name {
	switch k {
	case ResidPre:
		return hooks.ResidPre(l)
	case ResidPost:
		return hooks.ResidPost(l)
	case AttnOut:
		return hooks.AttnOut(l)
	case MLPOut:
		return hooks.MLPOut(l)
	case HeadOut:
		return hooks.Z(l)
	case Q:
		return hooks.Q(l)
	case K:
		return hooks.K(l)
	case V:
		return hooks.V(l)
	case Pattern:
		return hooks.Pattern(l)
	}
	return ""
}

// Positions selects the positions a Site covers. The zero value is every
// position; At(p) is position p alone.
type Positions struct {
	p   int
	one bool
}

// At selects position p alone.
func At(p int) Positions { return Positions{p: p, one: true} }

// Single returns the one position selected, and false if every position is.
func (ps Positions) Single() (p int, ok bool) { return ps.p, ps.one }

// All reports whether every position is selected (the zero value).
func (ps Positions) All() bool { return !ps.one }

// String is "all" or "pos P".
func (ps Positions) String() string {
	if ps.All() {
		return "all"
	}
	return fmt.Sprintf("pos %d", ps.p)
}

// covers reports whether ps selects position p.
func (ps Positions) covers(p int) bool { return !ps.one || ps.p == p }

// Site is one place to patch or ablate: an activation kind in one layer,
// one head of it for per-head kinds, and its positions: every position
// unless Pos says otherwise (Pos: At(3)). For Pattern, a single position
// selects the query row (the head's attention from that position).
type Site struct {
	Kind  Kind
	Layer int
	Head  int       // per-head kinds only; for k and v a key/value head (n_key_value_heads of them)
	Pos   Positions // the zero value: every position
}

// String labels the site: its kind, "L1" or "L1H2", and " pos 3" for a
// single position, as in "head_out L1H2 pos 3".
func (s Site) String() string {
	l := fmt.Sprintf("L%d", s.Layer)
	if s.Kind.PerHead() {
		l += fmt.Sprintf("H%d", s.Head)
	}
	if !s.Pos.All() {
		l += " " + s.Pos.String()
	}
	return fmt.Sprintf("%s %s", s.Kind, l)
}

// Check reports whether s exists in a model with config c run on pos
// positions.
func (s Site) Check(c transformer.Config, pos int) error {
	if !slices.Contains(Kinds(), s.Kind) {
		_, err := ParseKind(string(s.Kind))
		return err
	}
	if s.Layer < 0 || s.Layer >= c.NLayers {
		return fmt.Errorf("patching: %v: layer outside [0, %d)", s, c.NLayers)
	}
	if s.Kind == MLPOut && !c.HasMLP() {
		return fmt.Errorf("patching: %v: the model is attention-only (no mlp_out)", s)
	}
	if n := s.Kind.heads(c); s.Kind.PerHead() && (s.Head < 0 || s.Head >= n) {
		return fmt.Errorf("patching: %v: head outside [0, %d)", s, n)
	}
	if p, one := s.Pos.Single(); one && (p < 0 || p >= pos) {
		return fmt.Errorf("patching: %v: position outside [0, %d)", s, pos)
	}
	return nil
}

// hook returns s's hook point.
func (s Site) hook() hooks.Name { return s.Kind.Hook(s.Layer) }

// each calls f(b, off, n) for every contiguous run data[off:off+n] of an
// activation of s's kind, of the given shape, that s selects; b is the batch
// item the run belongs to.
func (s Site) each(shape []int, f func(b, off, n int)) {
	B := shape[0]
	switch {
	case s.Kind == Pattern: // [batch, head, query_pos, key_pos]
		H, T := shape[1], shape[2]
		for b := 0; b < B; b++ {
			head := (b*H + s.Head) * T * T
			if p, one := s.Pos.Single(); one {
				f(b, head+p*T, T)
			} else {
				f(b, head, T*T)
			}
		}
	case s.Kind.PerHead(): // [batch, pos, head, d_head]
		T, H, dh := shape[1], shape[2], shape[3]
		for b := 0; b < B; b++ {
			for p := 0; p < T; p++ {
				if s.Pos.covers(p) {
					f(b, ((b*T+p)*H+s.Head)*dh, dh)
				}
			}
		}
	default: // [batch, pos, d_model]
		T, d := shape[1], shape[2]
		for b := 0; b < B; b++ {
			if p, one := s.Pos.Single(); one {
				f(b, (b*T+p)*d, d)
			} else {
				f(b, b*T*d, T*d)
			}
		}
	}
}

// replace returns a forward hook that overwrites what s selects with the
// same elements of src, or with zeros if src is nil. src has the
// activation's shape except perhaps its batch size: batch item b reads
// src's item b mod src.Shape[0]. A run whose activation does not fit (s's
// position beyond its length, or another shape than src's) fails with the
// hooks package's shape error: a hook cannot return an error of its own, so
// it returns a tensor of the shape it needs to provoke one.
func (s Site) replace(src *tensor.Tensor) hooks.Func {
	return func(act *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		if !s.fits(act.Shape) {
			return tensor.New(s.needs(act.Shape)...)
		}
		if src == nil {
			s.each(act.Shape, func(_, off, n int) { clear(act.Data[off : off+n]) })
			return nil
		}
		if !tensor.SameShape(act.Shape[1:], src.Shape[1:]) {
			return src
		}
		per, sb := act.Size()/act.Shape[0], src.Shape[0]
		s.each(act.Shape, func(b, off, n int) {
			so := off - b*per + (b%sb)*per
			copy(act.Data[off:off+n], src.Data[so:so+n])
		})
		return nil
	}
}

// fits reports whether s's position exists in an activation of shape.
func (s Site) fits(shape []int) bool {
	p, one := s.Pos.Single()
	return !one || p < shape[hooks.PosAxis(s.hook())]
}

// needs returns shape with its position axis long enough for s.
func (s Site) needs(shape []int) []int {
	out := slices.Clone(shape)
	p, _ := s.Pos.Single()
	out[hooks.PosAxis(s.hook())] = p + 1
	return out
}

// dot returns Σ g·(a − b) over the elements s selects, in float64. The three
// tensors have the same shape.
func (s Site) dot(g, a, b *tensor.Tensor) float64 {
	var sum float64
	s.each(g.Shape, func(_, off, n int) {
		for i := off; i < off+n; i++ {
			sum += float64(g.Data[i]) * (float64(a.Data[i]) - float64(b.Data[i]))
		}
	})
	return sum
}
