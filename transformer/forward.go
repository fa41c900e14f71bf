package transformer

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// forward runs blocks [start, stop) on w.act.resid[start], first embedding
// w.tokens into resid[0] if embed is set, and last applying the final norm
// and unembedding to resid[stop] if final is set.
func (w *Workspace) forward(hs *hooks.Set, start, stop int, embed, final bool) error {
	c, p, a, nm := w.m.Cfg, w.m.P, &w.act, &w.m.nm
	d, rows := c.DModel, w.rows
	if embed {
		nn.EmbedForward(a.embed.Data, w.tokens, p.WE, d)
		if err := hs.RunForward(nm.embed, a.embed); err != nil {
			return err
		}
		if c.PositionalEmbeddingType != PosRotary {
			nn.PosEmbedForward(a.posEmbed.Data, p.WPos, w.batch, w.pos, d)
			if err := hs.RunForward(nm.posEmbed, a.posEmbed); err != nil {
				return err
			}
		}
		if c.PositionalEmbeddingType != PosStandard { // shortformer, rotary
			copy(a.resid[0].Data, a.embed.Data)
		} else {
			tensor.Add(a.resid[0].Data, a.embed.Data, a.posEmbed.Data)
		}
	}
	for l := start; l < stop; l++ {
		if err := w.block(hs, l); err != nil {
			return err
		}
	}
	if !final {
		return nil
	}
	x := a.resid[stop]
	if c.HasNorm() {
		if err := w.norm(hs, a.lnfOut, a.lnfScale, x, p.LNFinalW, p.LNFinalB, nm.lnfScale, nm.lnfNorm); err != nil {
			return err
		}
		x = a.lnfOut
	}
	wu, ldw := p.WU, c.DVocabOut
	if c.TiedEmbeddings {
		// logits = x·W_Eᵀ + b_U
		w.par.Gemm(false, true, rows, c.DVocabOut, d, 1, x.Data, d, p.WE, d, 0, a.logits.Data, c.DVocabOut)
		addBias(a.logits.Data, p.BU)
	} else {
		linearPar(w.par, a.logits.Data, x.Data, wu, p.BU, rows, d, c.DVocabOut, c.DVocabOut, d, ldw)
	}
	return hs.RunForward(nm.unembed, a.logits)
}

// norm applies the config's normalization to x into out (and its scale).
func (w *Workspace) norm(hs *hooks.Set, out, scale, x *tensor.Tensor, g, b []float32, scaleName, normName hooks.Name) error {
	c := w.m.Cfg
	eps := float32(c.Eps)
	switch c.NormalizationType {
	case NormLN, NormLNPre:
		w.normRows(false, out.Data, scale.Data, x.Data, g, b, eps)
	case NormRMS, NormRMSPre:
		w.normRows(true, out.Data, scale.Data, x.Data, g, nil, eps)
	}
	if err := hs.RunForward(scaleName, scale); err != nil {
		return err
	}
	return hs.RunForward(normName, out)
}

// block runs transformer block l: resid[l] → resid[l+1].
func (w *Workspace) block(hs *hooks.Set, l int) error {
	if err := w.blockAttn(hs, l); err != nil {
		return err
	}
	return w.blockOut(hs, l)
}

// blockAttn runs block l up to its attention's output z (hook_z).
func (w *Workspace) blockAttn(hs *hooks.Set, l int) error {
	c, a, nm := w.m.Cfg, &w.act, &w.m.nm
	bp, ba := &w.m.P.Blocks[l], &a.blocks[l]
	d, H, dh, rows := c.DModel, c.NHeads, c.DHead, w.rows
	hd := H * dh

	x := a.resid[l]
	if err := hs.RunForward(nm.residPre[l], x); err != nil {
		return err
	}
	h := x
	if c.HasNorm() {
		if err := w.norm(hs, ba.ln1Out, ba.ln1Scale, x, bp.LN1W, bp.LN1B, nm.ln1Scale[l], nm.ln1Norm[l]); err != nil {
			return err
		}
		h = ba.ln1Out
	}
	qkIn := h
	if ba.qkIn != nil {
		addPos(ba.qkIn.Data, h.Data, w.m.P.WPos, w.batch, w.pos, d)
		qkIn = ba.qkIn
	}
	w.linear(ba.q.Data, qkIn.Data, bp.WQ, bp.BQ, rows, d, hd)
	if err := hs.RunForward(nm.q[l], ba.q); err != nil {
		return err
	}
	Hkv := c.NKeyValueHeads
	w.linear(ba.k.Data, qkIn.Data, bp.WK, bp.BK, rows, d, Hkv*dh)
	if err := hs.RunForward(nm.k[l], ba.k); err != nil {
		return err
	}
	w.linear(ba.v.Data, h.Data, bp.WV, bp.BV, rows, d, Hkv*dh)
	if err := hs.RunForward(nm.v[l], ba.v); err != nil {
		return err
	}
	q, k, v := ba.q, ba.k, ba.v
	if c.PositionalEmbeddingType == PosRotary {
		w.rotate(ba.rotQ.Data, q.Data, H)
		if err := hs.RunForward(nm.rotQ[l], ba.rotQ); err != nil {
			return err
		}
		w.rotate(ba.rotK.Data, k.Data, Hkv)
		if err := hs.RunForward(nm.rotK[l], ba.rotK); err != nil {
			return err
		}
		q, k = ba.rotQ, ba.rotK
	}
	if c.grouped() {
		repeatKV(ba.kAttn.Data, k.Data, rows, H, Hkv, dh)
		repeatKV(ba.vAttn.Data, v.Data, rows, H, Hkv, dh)
		k, v = ba.kAttn, ba.vAttn
	}

	// Attention: fused per (batch, head) unless a hook needs the steps.
	stepwise := hs.HasForward(nm.scores[l]) || hs.HasForward(nm.pattern[l]) ||
		hs.HasBackward(nm.scores[l]) || hs.HasBackward(nm.pattern[l]) || c.customAttn(l)
	w.stepwiseAttn[l] = stepwise
	if stepwise {
		if c.customAttn(l) { // scaled otherwise or windowed: localattn.go
			w.customScores(ba.scores.Data, q.Data, k.Data, l)
		} else {
			nn.AttnScoresForward(ba.scores.Data, q.Data, k.Data, w.batch, w.pos, H, dh)
		}
		if err := hs.RunForward(nm.scores[l], ba.scores); err != nil {
			return err
		}
		nn.AttnSoftmaxForward(ba.pattern.Data, ba.scores.Data, w.batch, H, w.pos)
		if err := hs.RunForward(nm.pattern[l], ba.pattern); err != nil {
			return err
		}
		nn.AttnMixForward(ba.z.Data, ba.pattern.Data, v.Data, w.batch, w.pos, H, dh)
	} else {
		scores := ba.scores.Data
		if hs.Empty() {
			scores = nil // nobody can read them: skip the write
		}
		w.attention(ba.z.Data, scores, ba.pattern.Data, q.Data, k.Data, v.Data)
	}
	return hs.RunForward(nm.z[l], ba.z)
}

// blockOut runs block l from its attention's output z to resid[l+1].
func (w *Workspace) blockOut(hs *hooks.Set, l int) error {
	c, a, nm := w.m.Cfg, &w.act, &w.m.nm
	bp, ba := &w.m.P.Blocks[l], &a.blocks[l]
	d, H, dh, rows := c.DModel, c.NHeads, c.DHead, w.rows
	hd := H * dh
	x := a.resid[l]

	// The residual add after each output projection is fused into it
	// (residualOut) unless a hook may edit the projection's output first.
	mid := a.resid[l+1] // resid_post (attention-only) or resid_mid
	if c.HasMLP() {
		mid = ba.residMid
	}
	fused := false
	// Output projection: per head when hook_result is wanted.
	if hs.HasForward(nm.result[l]) || hs.HasBackward(nm.result[l]) {
		for hh := 0; hh < H; hh++ {
			// result[:, :, hh, :] = z[:, :, hh, :]·W_O[hh]   rows×dh · dh×d
			tensor.Gemm(false, false, rows, d, dh, 1, ba.z.Data[hh*dh:], hd, bp.WO[hh*dh*d:], d, 0, ba.result.Data[hh*d:], H*d)
		}
		if err := hs.RunForward(nm.result[l], ba.result); err != nil {
			return err
		}
		sumHeads(ba.attnOut.Data, ba.result.Data, bp.BO, rows, H, d)
	} else {
		fused = residualOut(w.par, ba.attnOut.Data, mid.Data, ba.z.Data, bp.WO, bp.BO, x.Data, rows, hd, d, !hs.HasForward(nm.attnOut[l]))
	}
	if err := hs.RunForward(nm.attnOut[l], ba.attnOut); err != nil {
		return err
	}
	if !fused {
		tensor.Add(mid.Data, x.Data, ba.attnOut.Data)
	}
	if !c.HasMLP() {
		return hs.RunForward(nm.residPost[l], a.resid[l+1])
	}
	mlpIn := ba.residMid
	if c.ParallelAttnMLP {
		mlpIn = x // the MLP reads resid_pre; resid_mid is internal (no hook)
	} else if err := hs.RunForward(nm.residMid[l], ba.residMid); err != nil {
		return err
	}
	h2 := mlpIn
	if c.HasNorm() {
		if err := w.norm(hs, ba.ln2Out, ba.ln2Scale, mlpIn, bp.LN2W, bp.LN2B, nm.ln2Scale[l], nm.ln2Norm[l]); err != nil {
			return err
		}
		h2 = ba.ln2Out
	}
	if c.GatedMLP {
		err := w.gatedMLP(bp, ba, h2.Data, func(step int) error {
			if step == 0 {
				return hs.RunForward(nm.mlpPre[l], ba.mlpPre)
			}
			return hs.RunForward(nm.mlpPreLinear[l], ba.mlpPreLinear)
		})
		if err != nil {
			return err
		}
	} else {
		w.linear(ba.mlpPre.Data, h2.Data, bp.WIn, bp.BIn, rows, d, c.DMLP)
		if err := hs.RunForward(nm.mlpPre[l], ba.mlpPre); err != nil {
			return err
		}
		w.activatePar(c.ActFn, ba.mlpPost.Data, ba.mlpPre.Data)
	}
	if err := hs.RunForward(nm.mlpPost[l], ba.mlpPost); err != nil {
		return err
	}
	fused = residualOut(w.par, ba.mlpOut.Data, a.resid[l+1].Data, ba.mlpPost.Data, bp.WOut, bp.BOut, ba.residMid.Data, rows, c.DMLP, d, !hs.HasForward(nm.mlpOut[l]))
	if err := hs.RunForward(nm.mlpOut[l], ba.mlpOut); err != nil {
		return err
	}
	if !fused {
		tensor.Add(a.resid[l+1].Data, ba.residMid.Data, ba.mlpOut.Data)
	}
	return hs.RunForward(nm.residPost[l], a.resid[l+1])
}

// residualOut computes a block's output projection y = x·W + b [rows, out]
// (x [rows, in]) and, if fuse is set and there is a bias, the residual
// stream after it, next = resid + y, in the same pass (tensor.GemmBiasAdd,
// bit for bit y then the add); it reports whether it did. Without fuse (a
// hook may edit y first) the caller adds.
func residualOut(s *tensor.Splitter, y, next, x, w, b, resid []float32, rows, in, out int, fuse bool) bool {
	if !fuse || b == nil {
		linearPar(s, y, x, w, b, rows, in, out, out, in, out)
		return false
	}
	s.GemmBiasAdd(rows, out, in, 1, x, in, w, out, b, y, out, resid, next)
	return true
}

// addBias adds b[n] to every row of y[rows, n].
func addBias(y, b []float32) {
	n := len(b)
	for off := 0; off < len(y); off += n {
		tensor.Axpy(1, b, y[off:off+n])
	}
}

// addPos writes dst[b,p,:] = x[b,p,:] + wpos[p,:].
func addPos(dst, x, wpos []float32, batch, pos, d int) {
	for b := 0; b < batch; b++ {
		off := b * pos * d
		tensor.Add(dst[off:off+pos*d], x[off:off+pos*d], wpos[:pos*d])
	}
}

// sumHeads writes out[r,:] = Σ_h result[r,h,:] + bias.
func sumHeads(out, result, bias []float32, rows, heads, d int) {
	for r := 0; r < rows; r++ {
		o := out[r*d : (r+1)*d]
		copy(o, bias)
		for h := 0; h < heads; h++ {
			tensor.Axpy(1, result[(r*heads+h)*d:][:d], o)
		}
	}
}

// prunable reports whether forwardRows may skip rows: the model is
// attention-only, without normalization, shortformer positions or tied
// embeddings, so that in the last block each query row, and every row after
// the attention, is computed on its own.
func (w *Workspace) prunable() bool {
	c := w.m.Cfg
	return !c.HasMLP() && !c.HasNorm() && !c.TiedEmbeddings && c.PositionalEmbeddingType == PosStandard && !c.grouped()
}

// forwardRows is Forward without hooks for Parallel's shards, given rr, the
// rows that the loss weighs, and the shard's scratch:
//
//   - resid_pre 0 = W_E[token] + W_pos[position] is written directly (the
//     embed and pos_embed activations are not);
//   - block 0's q, k, v are (W_E[token] + W_pos[position])·W + b: the tables
//     W_E·W and W_pos·W + b are computed once (d_vocab and pos rows) and
//     looked up, instead of three products over every row;
//   - in the last block the queries, the attention's output
//     (AttentionForwardQueries, which needs every position's keys and
//     values), W_O, the residual and the unembedding are computed on the
//     weighted rows only; the q, z, pattern, attn_out, resid_post and
//     logits of other rows are left as they were, which lossRows and
//     backwardScaled never read.
//
// The result is Forward's up to float32 rounding. Models that are not
// prunable run Forward.
func (w *Workspace) forwardRows(ctx context.Context, tokens []int32, rr *rowRuns) error {
	if !w.prunable() {
		return w.Forward(ctx, tokens, nil)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(tokens) != w.rows {
		return fmt.Errorf("transformer: forward got %d tokens, workspace holds %d×%d", len(tokens), w.batch, w.pos)
	}
	copy(w.tokens, tokens)
	c, p, a := w.m.Cfg, w.m.P, &w.act
	L, T := c.NLayers, w.pos
	d, hd, Vin, V := c.DModel, c.NHeads*c.DHead, c.DVocab, c.DVocabOut
	tensor.EmbedPos(a.resid[0].Data, p.WE, p.WPos, w.tokens, w.batch, T, d)
	for l := range L {
		bp, ba := &p.Blocks[l], &a.blocks[l]
		x, last := a.resid[l].Data, l == L-1
		switch {
		case l == 0:
			for i, t := range [...]struct{ y, w, b []float32 }{{ba.q.Data, bp.WQ, bp.BQ}, {ba.k.Data, bp.WK, bp.BK}, {ba.v.Data, bp.WV, bp.BV}} {
				tok, pos := rr.qkvTok[i][:Vin*hd], rr.qkvPos[i][:T*hd]
				tensor.Gemm(false, false, Vin, hd, d, 1, p.WE, d, t.w, hd, 0, tok, hd)
				nn.LinearForward(pos, p.WPos, t.w, t.b, T, d, hd)
				tensor.EmbedPos(t.y, tok, pos, w.tokens, w.batch, T, hd)
			}
		case last:
			for _, run := range rr.runs {
				lo, hi := run[0], run[1]
				nn.LinearForward(ba.q.Data[lo*hd:hi*hd], x[lo*d:hi*d], bp.WQ, bp.BQ, hi-lo, d, hd)
			}
		default:
			nn.LinearForward(ba.q.Data, x, bp.WQ, bp.BQ, w.rows, d, hd)
		}
		if l > 0 {
			nn.LinearForward(ba.k.Data, x, bp.WK, bp.BK, w.rows, d, hd)
			nn.LinearForward(ba.v.Data, x, bp.WV, bp.BV, w.rows, d, hd)
		}
		w.stepwiseAttn[l] = false
		if !last {
			nn.AttentionForward(ba.z.Data, nil, ba.pattern.Data, ba.q.Data, ba.k.Data, ba.v.Data, w.batch, T, c.NHeads, c.DHead)
			if err := w.blockOut(nil, l); err != nil {
				return err
			}
			continue
		}
		nn.AttentionForwardQueries(ba.z.Data, ba.pattern.Data, ba.q.Data, ba.k.Data, ba.v.Data, w.batch, T, c.NHeads, c.DHead, rr.lo, rr.hi)
		y := a.resid[L].Data
		for _, run := range rr.runs {
			lo, hi := run[0], run[1]
			n := hi - lo
			if !residualOut(nil, ba.attnOut.Data[lo*d:hi*d], y[lo*d:hi*d], ba.z.Data[lo*hd:hi*hd], bp.WO, bp.BO, x[lo*d:hi*d], n, hd, d, true) {
				tensor.Add(y[lo*d:hi*d], x[lo*d:hi*d], ba.attnOut.Data[lo*d:hi*d])
			}
			nn.LinearForwardStrided(a.logits.Data[lo*V:hi*V], y[lo*d:hi*d], p.WU, p.BU, n, d, V, V, d, V)
		}
	}
	return nil
}

// lossRows is Loss when forwardRows skipped rows: the cross-entropy over the
// rows in rr's runs, which hold every non-zero weight; the probs of other
// rows are left as they were. It returns the weighted mean, as Loss does.
func (w *Workspace) lossRows(targets []int32, weights []float32, rr *rowRuns) float64 {
	if !w.prunable() {
		return w.Loss(targets, weights)
	}
	copy(w.targets, targets)
	copy(w.weights, weights)
	V := w.m.Cfg.DVocabOut
	var num, den float64
	for _, run := range rr.runs {
		lo, hi := run[0], run[1]
		sw := tensor.Sum(w.weights[lo:hi])
		num += sw * nn.CrossEntropyForward(w.probs[lo*V:hi*V], w.act.logits.Data[lo*V:hi*V], w.targets[lo:hi], w.weights[lo:hi], hi-lo, V)
		den += sw
	}
	if den == 0 {
		return 0
	}
	return num / den
}
