package transformer

import "github.com/mechinterp/workbench/tensor"

// HeadWeights are one attention head's parameters in TransformerLens layout:
// W_Q, W_K, W_V [d_model, d_head], W_O [d_head, d_model], biases b_Q, b_K,
// b_V [d_head]. It is Workbench's one type for a head's weights: Model.Head
// and Model.Heads return them (as copies) and package circuits takes them
// (QK = W_Q·W_Kᵀ, OV = W_V·W_O).
type HeadWeights struct {
	WQ, WK, WV *tensor.Tensor
	WO         *tensor.Tensor
	BQ, BK, BV *tensor.Tensor
}

// Head returns copies of head h of layer l's weights. With grouped-query
// attention, each query head's W_K, W_V, b_K, b_V are its group's (query
// head h reads key/value head h / (n_heads/n_key_value_heads)). It panics with a
// tensor.ShapeError if l or h is out of range.
func (m *Model) Head(l, h int) HeadWeights {
	c := m.Cfg
	if l < 0 || l >= c.NLayers || h < 0 || h >= c.NHeads {
		panic(tensor.ShapeError{Op: "Head", Msg: "layer or head out of range"})
	}
	d, H, dh := c.DModel, c.NHeads, c.DHead
	Hkv, kv := c.NKeyValueHeads, h/(c.NHeads/c.NKeyValueHeads) // the K/V head of h's group
	b := &m.P.Blocks[l]
	in := func(w []float32, H, h int) *tensor.Tensor { // [d, H·dh] → head's [d, dh]
		t := tensor.New(d, dh)
		for i := 0; i < d; i++ {
			copy(t.Data[i*dh:(i+1)*dh], w[i*H*dh+h*dh:])
		}
		return t
	}
	vec := func(bias []float32, h int) *tensor.Tensor {
		t := tensor.New(dh)
		copy(t.Data, bias[h*dh:])
		return t
	}
	wo := tensor.New(dh, d)
	copy(wo.Data, b.WO[h*dh*d:(h+1)*dh*d])
	return HeadWeights{WQ: in(b.WQ, H, h), WK: in(b.WK, Hkv, kv), WV: in(b.WV, Hkv, kv), WO: wo,
		BQ: vec(b.BQ, h), BK: vec(b.BK, kv), BV: vec(b.BV, kv)}
}

// Heads returns copies of every head's weights, [layer][head].
func (m *Model) Heads() [][]HeadWeights {
	out := make([][]HeadWeights, m.Cfg.NLayers)
	for l := range out {
		out[l] = make([]HeadWeights, m.Cfg.NHeads)
		for h := range out[l] {
			out[l][h] = m.Head(l, h)
		}
	}
	return out
}

// Unembed returns W_U, [d_model, d_vocab_out] (W_Eᵀ for tied embeddings), a copy.
func (m *Model) Unembed() *tensor.Tensor {
	c := m.Cfg
	if !c.TiedEmbeddings {
		return tensor.FromSlice(append([]float32(nil), m.P.WU...), c.DModel, c.DVocabOut)
	}
	t := tensor.New(c.DModel, c.DVocab)
	for i := 0; i < c.DModel; i++ {
		for j := 0; j < c.DVocab; j++ {
			t.Data[i*c.DVocab+j] = m.P.WE[j*c.DModel+i]
		}
	}
	return t
}
