package lens

import (
	"context"
	"fmt"
	"strconv"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// BiasLabel labels the decomposition's constant component: the sum of the
// attention output biases b_O and MLP output biases b_out of every layer
// that wrote to the residual before the chosen point.
const BiasLabel = "bias"

// Decomposition is the residual stream at one point split into the terms
// that wrote it (TransformerLens's get_full_resid_decomposition):
//
//	embed        W_E[tokens]                         (hook_embed)
//	pos_embed    W_pos[:pos] (standard positions)    (hook_pos_embed)
//	L{l}H{h}     head h of layer l's output z·W_O[h], without b_O (hook_result)
//	{l}_mlp_out  layer l's MLP output minus b_out    (hook_mlp_out − b_out)
//	bias         Σ b_O + Σ b_out over those layers
//
// in that order, heads and MLPs layer by layer. Unlike TransformerLens's
// decompose_resid, {l}_mlp_out excludes b_out, so that bias holds every
// input-independent term. The components sum to Resid up to float32
// rounding.
type Decomposition struct {
	At     hooks.Name     // the residual point, a hook_resid_pre/mid/post name
	Labels []string       // one per component
	Stack  *tensor.Tensor // [component, batch, pos, d_model]
	Resid  *tensor.Tensor // the residual at At, [batch, pos, d_model]
	// Scale is the final normalisation's cached scale from the same run,
	// ln_final.hook_scale [batch, pos, 1], or nil for a model without
	// normalisation. ApplyLN linearises ln_final with it.
	Scale *tensor.Tensor
}

// Decompose runs m on tokens and decomposes the residual stream at the point
// at: blocks.{l}.hook_resid_pre, hook_resid_mid (models with MLPs, unless
// attention and MLP run in parallel) or
// hook_resid_post, or EmbedLabel for resid_pre of block 0. An unknown point
// or invalid tokens are errors.
func Decompose(ctx context.Context, m *transformer.Model, tokens [][]int, at hooks.Name) (*Decomposition, error) {
	c := m.Cfg
	if at == EmbedLabel {
		at = hooks.ResidPre(0)
	}
	l := at.Layer()
	nAttn, nMLP := 0, 0 // layers whose attention, and MLP, wrote before at
	switch {
	case l < 0 || l >= c.NLayers:
	case at == hooks.ResidPre(l):
		nAttn, nMLP = l, l
	case at == hooks.ResidMid(l) && c.HasResidMid():
		nAttn, nMLP = l+1, l
	case at == hooks.ResidPost(l):
		nAttn, nMLP = l+1, l+1
	default:
		l = -1
	}
	if l < 0 || l >= c.NLayers {
		return nil, fmt.Errorf("lens: cannot decompose at %q: want blocks.{l}.hook_resid_pre, hook_resid_mid (models with MLPs, not parallel attention and MLP) or hook_resid_post with 0 ≤ l < %d", at, c.NLayers)
	}
	if !c.HasMLP() {
		nMLP = 0
	}
	want := []hooks.Name{hooks.Embed(), hooks.PosEmbed(), at}
	if c.HasNorm() {
		want = append(want, hooks.LNFinalScale())
	}
	for l := range nAttn {
		want = append(want, hooks.Result(l))
	}
	for l := range nMLP {
		want = append(want, hooks.MLPOut(l))
	}
	set, cache := hooks.Capture(hooks.Names(want...))
	if _, err := m.Run(ctx, tokens, set); err != nil {
		return nil, fmt.Errorf("lens: %w", err)
	}
	get := func(n hooks.Name) *tensor.Tensor { t, _ := cache.Get(n); return t }

	resid := get(at)
	batch, pos, d, H := resid.Shape[0], resid.Shape[1], c.DModel, c.NHeads
	n := batch * pos * d
	labels := []string{"embed"}
	if c.PositionalEmbeddingType == transformer.PosStandard {
		labels = append(labels, "pos_embed")
	}
	for l := range nAttn {
		for h := range H {
			labels = append(labels, "L"+strconv.Itoa(l)+"H"+strconv.Itoa(h))
		}
		if l < nMLP {
			labels = append(labels, strconv.Itoa(l)+"_mlp_out")
		}
	}
	labels = append(labels, BiasLabel)
	stack := tensor.New(len(labels), batch, pos, d)
	comp := func(i int) []float32 { return stack.Data[i*n : (i+1)*n] }

	i := 0
	copy(comp(i), get(hooks.Embed()).Data)
	i++
	if c.PositionalEmbeddingType == transformer.PosStandard {
		copy(comp(i), get(hooks.PosEmbed()).Data)
		i++
	}
	bias := comp(len(labels) - 1)
	for l := range nAttn {
		bp := &m.P.Blocks[l]
		res := get(hooks.Result(l)).Data // [batch, pos, head, d_model]
		for h := range H {
			dst := comp(i)
			for r := range batch * pos {
				copy(dst[r*d:(r+1)*d], res[(r*H+h)*d:][:d])
			}
			i++
		}
		addRows(bias, bp.BO)
		if l < nMLP {
			dst := comp(i)
			copy(dst, get(hooks.MLPOut(l)).Data)
			addRows(dst, negated(bp.BOut))
			addRows(bias, bp.BOut)
			i++
		}
	}
	dc := &Decomposition{At: at, Labels: labels, Stack: stack, Resid: resid}
	if c.HasNorm() {
		dc.Scale = get(hooks.LNFinalScale())
	}
	return dc, nil
}

// Sum returns the sum of the components, [batch, pos, d_model], accumulated
// in float64: the residual up to float32 rounding.
func (dc *Decomposition) Sum() *tensor.Tensor {
	out := tensor.New(dc.Resid.Shape...)
	n := out.Size()
	acc := make([]float64, n)
	for c := range dc.Labels {
		for j, v := range dc.Stack.Data[c*n : (c+1)*n] {
			acc[j] += float64(v)
		}
	}
	for j, v := range acc {
		out.Data[j] = float32(v)
	}
	return out
}

// addRows adds v [d] to every row of x [rows, d].
func addRows(x, v []float32) {
	d := len(v)
	for off := 0; off < len(x); off += d {
		tensor.Axpy(1, v, x[off:off+d])
	}
}

func negated(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}
