package transformer

import (
	"math"

	"github.com/mechinterp/workbench/nn"
)

// Llama-family pieces of the forward pass: rotary position embeddings
// (rotate-half pairing, as Hugging Face and GPT-NeoX lay them out; the
// adjacent pairing is in rotary_adjacent.go),
// grouped-query attention and gated MLPs. Their backward pass is in
// backward_llama.go.

// rotaryTables returns cos(p·θ_i) and sin(p·θ_i) for positions p < pos and
// i < rotary_dim/2, θ_i = rotary_base^(−2i/rotary_dim), computed in float64;
// nil for models without rotary embeddings.
func rotaryTables(c Config, pos int) (cos, sin []float32) {
	if c.PositionalEmbeddingType != PosRotary {
		return nil, nil
	}
	half := c.RotaryDim / 2
	cos, sin = make([]float32, pos*half), make([]float32, pos*half)
	for i := range half {
		theta := math.Pow(c.RotaryBase, -2*float64(i)/float64(c.RotaryDim))
		for p := range pos {
			s, co := math.Sincos(float64(p) * theta)
			cos[p*half+i], sin[p*half+i] = float32(co), float32(s)
		}
	}
	return cos, sin
}

// rotate writes src [batch, pos, heads, d_head] rotated by position into
// dst, in the config's pairing (see rotaryPairs); dimensions from
// rotary_dim on are copied.
func (w *Workspace) rotate(dst, src []float32, heads int) { w.rotateBy(dst, src, heads, 1) }

// rotateBy is rotate for sign 1 and its inverse (its transpose, which the
// backward pass applies to gradients) for sign −1. Pair i, of dimensions
// (a, b), turns by the angle p·θ_i: (x_a, x_b) → (x_a·cos − x_b·sin,
// x_b·cos + x_a·sin).
func (w *Workspace) rotateBy(dst, src []float32, heads int, sign float32) {
	dh, half := w.m.Cfg.DHead, w.m.Cfg.RotaryDim/2
	step, gap := rotaryPairs(w.m.Cfg)
	for r := range w.rows {
		p := r % w.pos
		cs, sn := w.rotCos[p*half:][:half], w.rotSin[p*half:][:half]
		for h := range heads {
			off := (r*heads + h) * dh
			x, y := src[off:off+dh], dst[off:off+dh]
			for i := range half {
				a, b := i*step, i*step+gap
				x1, x2, s := x[a], x[b], sign*sn[i]
				y[a] = x1*cs[i] - x2*s
				y[b] = x2*cs[i] + x1*s
			}
			copy(y[2*half:], x[2*half:])
		}
	}
}

// repeatKV writes src [rows, kvHeads, d_head] into dst [rows, heads,
// d_head], each key/value head repeated for the heads/kvHeads query heads
// of its group (query head h reads group h / (heads/kvHeads)).
func repeatKV(dst, src []float32, rows, heads, kvHeads, dh int) {
	g := heads / kvHeads
	for r := range rows {
		for h := range heads {
			copy(dst[(r*heads+h)*dh:][:dh], src[(r*kvHeads+h/g)*dh:][:dh])
		}
	}
}

// activate applies the config's act_fn elementwise: y = act(x).
func activate(act string, y, x []float32) {
	switch act {
	case ActGELU:
		nn.GELUForward(y, x)
	case ActGELUNew:
		nn.GELUTanhForward(y, x)
	case ActReLU:
		nn.ReLUForward(y, x)
	case ActSiLU:
		for i, v := range x[:len(y)] {
			y[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
		}
	}
}

// gatedMLP computes a gated MLP's hidden layer from h [rows, d_model], as
// TransformerLens's GatedMLP: pre = h·W_gate, preLinear = h·W_in,
// post = act(pre)·preLinear + b_in. run calls the hook after each step.
func (w *Workspace) gatedMLP(bp *BlockParams, ba *blockActs, h []float32, run func(step int) error) error {
	c := w.m.Cfg
	nn.LinearForward(ba.mlpPre.Data, h, bp.WGate, nil, w.rows, c.DModel, c.DMLP)
	if err := run(0); err != nil {
		return err
	}
	nn.LinearForward(ba.mlpPreLinear.Data, h, bp.WIn, nil, w.rows, c.DModel, c.DMLP)
	if err := run(1); err != nil {
		return err
	}
	post := ba.mlpPost.Data
	activate(c.ActFn, post, ba.mlpPre.Data)
	for i, v := range ba.mlpPreLinear.Data {
		post[i] *= v
	}
	addBias(post, bp.BIn)
	return nil
}
