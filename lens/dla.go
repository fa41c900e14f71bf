package lens

import (
	"fmt"

	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// ApplyLN applies m's final normalisation to a stack of residual components,
// stack [..., batch, pos, d_model], linearised at a cached scale, scale
// [batch, pos, 1] (ln_final.hook_scale of the run the components come from;
// ignored, and may be nil, for models without normalisation), as
// TransformerLens's apply_ln_to_stack does. Each component x becomes
//
//	(x − mean(x)) / scale ⊙ w     LN and LNPre (w = 1 for LNPre)
//	x / scale ⊙ w                 RMS and RMSPre (w = 1 for RMSPre)
//	x                             no normalisation
//
// with the mean over d_model and w = ln_final.w. LN's bias b is left out: it
// belongs to no component. This is a linearisation: summed over components,
// plus b, it equals ln_final of the summed residual (up to float32 rounding)
// only when scale is that residual's own scale, as it is for the final
// residual; at an earlier point it is ln_final linearised around the final
// scale, which is not what the logit lens decodes (the logit lens recomputes
// the scale). The result is a new tensor of stack's shape. ApplyLN panics
// with a tensor.ShapeError if the shapes disagree.
func ApplyLN(m *transformer.Model, stack, scale *tensor.Tensor) *tensor.Tensor {
	c, d := m.Cfg, m.Cfg.DModel
	if len(stack.Shape) < 3 || stack.Dim(-1) != d {
		panic(tensor.ShapeError{Op: "lens.ApplyLN", Msg: fmt.Sprintf("stack of shape %v, want [..., batch, pos, %d]", stack.Shape, d)})
	}
	out := stack.Clone()
	if !c.HasNorm() {
		return out
	}
	rows := stack.Dim(-3) * stack.Dim(-2)
	if scale == nil || scale.Size() != rows {
		panic(tensor.ShapeError{Op: "lens.ApplyLN", Msg: fmt.Sprintf("scale does not hold one value per row of a stack of shape %v", stack.Shape)})
	}
	centre := c.NormalizationType == transformer.NormLN || c.NormalizationType == transformer.NormLNPre
	w := m.P.LNFinalW // nil for LNPre and RMSPre
	for r := range out.Size() / d {
		x := out.Data[r*d : (r+1)*d]
		mean := 0.0
		if centre {
			mean = tensor.Sum(x) / float64(d)
		}
		inv := 1 / float64(scale.Data[r%rows])
		for j, v := range x {
			y := (float64(v) - mean) * inv
			if w != nil {
				y *= float64(w[j])
			}
			x[j] = float32(y)
		}
	}
	return out
}

// Attribution is the direct logit attribution of a Decomposition: how much
// each component, passed through the linearised ln_final (ApplyLN) and the
// unembedding, adds to an answer's logit or to the logit difference between
// an answer and a wrong token.
type Attribution struct {
	Labels []string      // the decomposition's component labels
	Values [][][]float64 // [component][batch][pos]
	// Const is the part of the logit (difference) that no residual component
	// writes, [batch]: ln_final.b·u + b_U·δ, where δ selects the answer minus
	// the wrong token and u = W_U·δ.
	Const []float64
}

// Total returns Σ_c Values[c][b][p] + Const[b]: for a model without
// normalisation, exactly (up to rounding) the logit (difference) the logit
// lens reads at the decomposed point; with normalisation, that of the
// linearisation ApplyLN describes, which is the model's own logit
// (difference) at the final residual.
func (a *Attribution) Total(b, p int) float64 {
	s := a.Const[b]
	for c := range a.Values {
		s += a.Values[c][b][p]
	}
	return s
}

// DLA attributes to each component the logit of answer[b] at every position
// of sequence b, or, if wrong is not nil, the logit difference answer[b] −
// wrong[b] (TransformerLens's residual_stack_to_logit_diff on the stack after
// ApplyLN). answer and wrong (if not nil) hold one token per sequence, or
// one token for all. Tokens outside [0, d_vocab_out) and mismatched lengths
// are errors.
func (dc *Decomposition) DLA(m *transformer.Model, answer, wrong []int) (*Attribution, error) {
	batch, pos := dc.Resid.Shape[0], dc.Resid.Shape[1]
	c, d := m.Cfg, m.Cfg.DModel
	tok := func(s []int, b int) int {
		if len(s) == 1 {
			return s[0]
		}
		return s[b]
	}
	if err := checkAnswer("answer", answer, batch, c.DVocabOut); err != nil {
		return nil, err
	}
	if wrong != nil {
		if err := checkAnswer("wrong", wrong, batch, c.DVocabOut); err != nil {
			return nil, err
		}
	}
	wu := m.Unembed() // [d_model, d_vocab_out]
	V := wu.Shape[1]
	dir := make([]float64, batch*d) // [batch, d_model]: W_U·δ per sequence
	a := &Attribution{Labels: dc.Labels, Const: make([]float64, batch)}
	for b := range batch {
		at, wt := tok(answer, b), -1
		if wrong != nil {
			wt = tok(wrong, b)
		}
		u := dir[b*d : (b+1)*d]
		for j := range d {
			u[j] = float64(wu.Data[j*V+at])
			if wt >= 0 {
				u[j] -= float64(wu.Data[j*V+wt])
			}
			if m.P.LNFinalB != nil {
				a.Const[b] += float64(m.P.LNFinalB[j]) * u[j]
			}
		}
		a.Const[b] += float64(m.P.BU[at])
		if wt >= 0 {
			a.Const[b] -= float64(m.P.BU[wt])
		}
	}
	normed := ApplyLN(m, dc.Stack, dc.Scale)
	n := batch * pos * d
	a.Values = make([][][]float64, len(dc.Labels))
	for ci := range dc.Labels {
		comp := normed.Data[ci*n : (ci+1)*n]
		a.Values[ci] = make([][]float64, batch)
		for b := range batch {
			a.Values[ci][b] = make([]float64, pos)
			u := dir[b*d : (b+1)*d]
			for p := range pos {
				x := comp[(b*pos+p)*d:][:d]
				var s float64
				for j, v := range x {
					s += float64(v) * u[j]
				}
				a.Values[ci][b][p] = s
			}
		}
	}
	return a, nil
}

// checkAnswer validates DLA's per-sequence tokens.
func checkAnswer(what string, toks []int, batch, vocab int) error {
	if len(toks) != 1 && len(toks) != batch {
		return fmt.Errorf("lens: DLA needs one %s token per sequence (%d) or one for all, got %d", what, batch, len(toks))
	}
	for _, t := range toks {
		if t < 0 || t >= vocab {
			return fmt.Errorf("lens: DLA %s token %d outside the output vocabulary [0, %d)", what, t, vocab)
		}
	}
	return nil
}
