package transformer

// Weight processing, as explicit transforms that return a new model and
// never change the receiver (TransformerLens applies these silently when
// loading; here the caller asks). Each leaves the model's log-probabilities
// unchanged up to float32 rounding; the arithmetic is done in float64.
//
// Definitions follow TransformerLens (HookedTransformer.process_weights_):
//   - FoldLayerNorm folds each LayerNorm's gain w and bias b into the
//     weights that read its output: W ← diag(w)·W, b_W ← b_W + b·W, and then
//     (for LN, whose output has zero mean) centres W over its d_model input
//     axis. LN becomes LNPre and RMS becomes RMSPre.
//   - CenterWritingWeights subtracts the mean over d_model from every weight
//     and bias that writes to the residual stream (W_E, W_pos, W_O, b_O,
//     W_out, b_out). Valid only when every reader of the stream normalises
//     it first (LN or LNPre), which removes the mean anyway.
//   - CenterUnembed subtracts from W_U and b_U their mean over the
//     vocabulary: softmax is invariant to a constant added to all logits.
//   - FoldValueBiases moves b_V into b_O: b_O ← b_O + Σ_h b_V[h]·W_O[h],
//     b_V ← 0, since every pattern row sums to one.
//
// A model with tied embeddings is untied first (W_U becomes a copy of W_Eᵀ),
// because folding changes W_U and W_E differently.

import (
	"fmt"
)

// untied returns a copy of m whose W_U is stored (a copy of W_Eᵀ if tied).
func (m *Model) untied() *Model {
	if !m.Cfg.TiedEmbeddings {
		return m.Clone()
	}
	c := m.Cfg
	c.TiedEmbeddings = false
	n, _ := newZero(c)
	for _, s := range c.paramSpecs() {
		if s.name == "unembed.W_U" {
			continue
		}
		copy(*s.ptr(n.P), *s.ptr(m.P))
	}
	d, V := c.DModel, c.DVocab
	for i := 0; i < d; i++ {
		for j := 0; j < V; j++ {
			n.P.WU[i*V+j] = m.P.WE[j*d+i]
		}
	}
	return n
}

func vec64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func store32(dst []float32, x []float64) {
	for i, v := range x {
		dst[i] = float32(v)
	}
}

// foldInto folds a norm's gain w and bias b (either may be nil) into the
// reader W [d, n] (row-major, rows = d_model inputs) with bias bw [n], and,
// if center, centres W's columns over the d_model axis. All float64.
func foldInto(W, bw []float32, w, b []float32, d, n int, center bool) {
	Wf, bf := vec64(W), vec64(bw)
	if b != nil {
		for i := 0; i < d; i++ {
			for j := 0; j < n; j++ {
				bf[j] += float64(b[i]) * Wf[i*n+j]
			}
		}
	}
	if w != nil {
		for i := 0; i < d; i++ {
			for j := 0; j < n; j++ {
				Wf[i*n+j] *= float64(w[i])
			}
		}
	}
	if center {
		for j := 0; j < n; j++ {
			var s float64
			for i := 0; i < d; i++ {
				s += Wf[i*n+j]
			}
			s /= float64(d)
			for i := 0; i < d; i++ {
				Wf[i*n+j] -= s
			}
		}
	}
	store32(W, Wf)
	store32(bw, bf)
}

// FoldLayerNorm returns a copy of m with every normalization's gain and bias
// folded into the weights that read it (see the file comment). It is an
// error on a model without normalization or already folded (LNPre, RMSPre).
func (m *Model) FoldLayerNorm() (*Model, error) {
	nt := m.Cfg.NormalizationType
	if nt != NormLN && nt != NormRMS {
		return nil, fmt.Errorf("transformer: FoldLayerNorm needs normalization LN or RMS, model has %q", nt)
	}
	if m.Cfg.PositionalEmbeddingType == PosShortformer {
		return nil, fmt.Errorf("transformer: FoldLayerNorm does not apply to shortformer models (W_pos enters queries and keys after the norm)")
	}
	if m.Cfg.GatedMLP && nt == NormLN {
		return nil, fmt.Errorf("transformer: FoldLayerNorm does not apply to gated MLPs with LN (W_gate has no bias to take ln2's)")
	}
	src := m.untied()
	c := src.Cfg
	center := nt == NormLN
	if center {
		c.NormalizationType = NormLNPre
	} else {
		c.NormalizationType = NormRMSPre
	}
	out, err := newZero(c)
	if err != nil {
		return nil, err
	}
	// Copy every parameter the folded config still has.
	srcByName := map[string][]float32{}
	for _, s := range src.Cfg.paramSpecs() {
		srcByName[s.name] = *s.ptr(src.P)
	}
	for _, s := range c.paramSpecs() {
		copy(*s.ptr(out.P), srcByName[s.name])
	}
	d, hd, kvd := c.DModel, c.NHeads*c.DHead, c.NKeyValueHeads*c.DHead
	for l := range out.P.Blocks {
		sb, ob := &src.P.Blocks[l], &out.P.Blocks[l]
		foldInto(ob.WQ, ob.BQ, sb.LN1W, sb.LN1B, d, hd, center)
		foldInto(ob.WK, ob.BK, sb.LN1W, sb.LN1B, d, kvd, center)
		foldInto(ob.WV, ob.BV, sb.LN1W, sb.LN1B, d, kvd, center)
		if c.HasMLP() {
			foldInto(ob.WIn, ob.BIn, sb.LN2W, sb.LN2B, d, c.DMLP, center)
		}
		if c.GatedMLP { // RMS: a gain only
			foldInto(ob.WGate, nil, sb.LN2W, nil, d, c.DMLP, false)
		}
	}
	foldInto(out.P.WU, out.P.BU, src.P.LNFinalW, src.P.LNFinalB, d, c.DVocabOut, center)
	return out, nil
}

// centerRows subtracts from each row of x [rows, n] its mean, in float64.
func centerRows(x []float32, n int) {
	for off := 0; off < len(x); off += n {
		row := vec64(x[off : off+n])
		var s float64
		for _, v := range row {
			s += v
		}
		s /= float64(n)
		for i := range row {
			row[i] -= s
		}
		store32(x[off:off+n], row)
	}
}

// CenterWritingWeights returns a copy of m whose residual-stream writers
// have zero mean over d_model (see the file comment). It is an error unless
// the model normalises with LN or LNPre, where this changes nothing.
func (m *Model) CenterWritingWeights() (*Model, error) {
	if nt := m.Cfg.NormalizationType; nt != NormLN && nt != NormLNPre {
		return nil, fmt.Errorf("transformer: CenterWritingWeights needs normalization LN or LNPre, model has %q", nt)
	}
	if m.Cfg.PositionalEmbeddingType == PosShortformer {
		return nil, fmt.Errorf("transformer: CenterWritingWeights does not apply to shortformer models (W_pos is read without normalization)")
	}
	out := m.untied()
	d := out.Cfg.DModel
	centerRows(out.P.WE, d)
	centerRows(out.P.WPos, d)
	for l := range out.P.Blocks {
		b := &out.P.Blocks[l]
		centerRows(b.WO, d)
		centerRows(b.BO, d)
		if out.Cfg.HasMLP() {
			centerRows(b.WOut, d)
			centerRows(b.BOut, d)
		}
	}
	return out, nil
}

// CenterUnembed returns a copy of m whose W_U rows and b_U have zero mean
// over the vocabulary.
func (m *Model) CenterUnembed() *Model {
	out := m.untied()
	centerRows(out.P.WU, out.Cfg.DVocabOut)
	centerRows(out.P.BU, out.Cfg.DVocabOut)
	return out
}

// FoldValueBiases returns a copy of m with each layer's value biases moved
// into its output bias (with grouped-query attention, each query head's
// W_O takes its group's b_V).
func (m *Model) FoldValueBiases() *Model {
	out := m.Clone()
	c := out.Cfg
	d, dh, hd, g := c.DModel, c.DHead, c.NHeads*c.DHead, c.NHeads/c.NKeyValueHeads
	for l := range out.P.Blocks {
		b := &out.P.Blocks[l]
		bo := vec64(b.BO)
		for r := 0; r < hd; r++ {
			bv := float64(b.BV[r/dh/g*dh+r%dh])
			for j := 0; j < d; j++ {
				bo[j] += bv * float64(b.WO[r*d+j])
			}
		}
		store32(b.BO, bo)
		clear(b.BV)
	}
	return out
}

// ProcessWeights applies, in TransformerLens's order, FoldLayerNorm (models
// with LN or RMS), CenterWritingWeights (LN models), CenterUnembed and
// FoldValueBiases, and returns the processed copy. Shortformer models are
// not folded or centred (their W_pos bypasses the norms).
func (m *Model) ProcessWeights() (*Model, error) {
	out := m
	var err error
	nt := m.Cfg.NormalizationType
	short := m.Cfg.PositionalEmbeddingType == PosShortformer
	if (nt == NormLN || nt == NormRMS) && !short {
		if out, err = out.FoldLayerNorm(); err != nil {
			return nil, err
		}
	}
	if (nt == NormLN || nt == NormLNPre) && !short {
		if out, err = out.CenterWritingWeights(); err != nil {
			return nil, err
		}
	}
	return out.CenterUnembed().FoldValueBiases(), nil
}
