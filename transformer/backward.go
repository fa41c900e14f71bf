package transformer

import (
	"errors"
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// Backward back-propagates the loss of the last Loss call through the last
// forward pass, ACCUMULATING parameter gradients into g (zero it first for a
// fresh gradient), and calls hs's backward hooks with the gradient with
// respect to each hooked activation. Forward hooks' edits are part of the
// forward pass: Backward differentiates the values the hooks left.
func (w *Workspace) Backward(g *Params, hs *hooks.Set) error {
	return w.BackwardScaled(g, hs, 1)
}

// BackwardScaled is Backward for the loss multiplied by scale: data-parallel
// training weights each shard's mean loss by its share of the batch.
func (w *Workspace) BackwardScaled(g *Params, hs *hooks.Set, scale float32) error {
	return w.backwardScaled(g, hs, scale, nil)
}

// backwardScaled is BackwardScaled; Parallel's shards pass rr, the rows of
// non-zero weight (the only rows where the loss gradient is not zero) and
// their scratch, and no hooks: the products that see only those rows run
// on them alone (see rowRuns).
func (w *Workspace) backwardScaled(g *Params, hs *hooks.Set, scale float32, rr *rowRuns) error {
	if err := w.checkBackward(); err != nil {
		return err
	}
	dl := w.gradActs().logits.Data
	clear(dl)
	nn.CrossEntropyBackward(dl, w.probs, w.targets, w.weights, w.rows, w.m.Cfg.DVocabOut, scale)
	return w.backward(g, hs, rr)
}

// BackwardFrom back-propagates a caller-supplied gradient with respect to
// the logits, dlogits [batch, pos, d_vocab_out], through the last forward
// pass, as Backward does. Use it for metrics other than the loss (logit
// differences in attribution patching, for example).
func (w *Workspace) BackwardFrom(dlogits []float32, g *Params, hs *hooks.Set) error {
	if err := w.setLogitsGrad(dlogits); err != nil {
		return err
	}
	return w.backward(g, hs, nil)
}

// setLogitsGrad copies dlogits into the logits' gradient, checking the
// workspace and the length first.
func (w *Workspace) setLogitsGrad(dlogits []float32) error {
	if err := w.checkBackward(); err != nil {
		return err
	}
	ga := w.gradActs()
	if len(dlogits) != len(ga.logits.Data) {
		return fmt.Errorf("transformer: dlogits has %d values, want %d", len(dlogits), len(ga.logits.Data))
	}
	copy(ga.logits.Data, dlogits)
	return nil
}

// BackwardActivations is BackwardFrom without parameter gradients: the
// gradients Grad returns and those hs's backward hooks see are BackwardFrom's
// (up to rounding in the unembedding's input gradient), but no
// weight-gradient product is computed — about half of a backward pass — and
// the unembedding's input gradient is computed on the rows where dlogits is
// not zero alone (a metric that reads one position per sequence leaves
// the others zero). For attribution methods, which need the gradients with
// respect to activations only.
func (w *Workspace) BackwardActivations(dlogits []float32, hs *hooks.Set) error {
	if err := w.setLogitsGrad(dlogits); err != nil {
		return err
	}
	return w.backward(nil, hs, nil)
}

// Grad returns the gradient with respect to the activation called name after
// the last Backward, or false if there is none (not a transformer point, or
// not computed: scale points have no gradient here). The tensor is a view
// that the next pass overwrites.
func (w *Workspace) Grad(name hooks.Name) (*tensor.Tensor, bool) {
	if w.grad == nil {
		return nil, false
	}
	if nm := &w.m.nm; w.foldsEmbedGrad() && (name == nm.embed || name == nm.posEmbed || name == nm.residPre[0]) {
		return nil, false // folded into W_E's and W_pos's gradients, never formed
	}
	return w.m.lookup(w.grad, name)
}

// Act returns the activation called name from the last forward pass, a view.
func (w *Workspace) Act(name hooks.Name) (*tensor.Tensor, bool) {
	if w.hidesAct(name) {
		return nil, false
	}
	return w.m.lookup(&w.act, name)
}

func (w *Workspace) gradActs() *acts {
	if w.grad == nil {
		w.grad = newActs(w.m.Cfg, w.batch, w.pos)
	}
	return w.grad
}

// shareCopyGrads makes the gradients of the activations that are plain
// copies of another's (embed, pos_embed and each block's attn_out and
// mlp_out) views of that other's gradient, so that backward skips the
// copies: Grad still returns the right values. Backward hooks could edit
// one without the other, so a workspace that shares them refuses them
// (errSharedGrads); Parallel's shards, which never run hooks, share.
func (w *Workspace) shareCopyGrads() {
	c, da := w.m.Cfg, w.gradActs()
	da.embed.Data = da.resid[0].Data
	if c.PositionalEmbeddingType == PosStandard { // else its gradient is zero
		da.posEmbed.Data = da.resid[0].Data
	}
	for l := range da.blocks {
		b := &da.blocks[l]
		dMid := da.resid[l+1]
		if c.HasMLP() {
			b.mlpOut.Data = da.resid[l+1].Data
			dMid = b.residMid
		}
		b.attnOut.Data = dMid.Data
	}
}

var errSharedGrads = errors.New("transformer: backward hooks on a workspace that shares activation gradients (a Parallel shard's)")

// gradsShared reports whether shareCopyGrads was applied.
func (w *Workspace) gradsShared() bool { return &w.grad.embed.Data[0] == &w.grad.resid[0].Data[0] }

// copyGrad copies src into dst unless they are the same buffer (shared by
// shareCopyGrads).
func copyGrad(dst, src []float32) {
	if &dst[0] != &src[0] {
		copy(dst, src)
	}
}

// backward propagates w.grad.logits back to the embeddings. If rr is not
// nil, the logits' gradient is zero outside its runs of rows. If g is nil,
// no parameter gradient is computed (BackwardActivations).
func (w *Workspace) backward(g *Params, hs *hooks.Set, rr *rowRuns) error {
	if err := w.m.Cfg.checkTrainable("backward"); err != nil {
		return err
	}
	if g == nil {
		g = w.noGrads()
	}
	c, p, a, da, nm := w.m.Cfg, w.m.P, &w.act, w.grad, &w.m.nm
	d, rows := c.DModel, w.rows
	if hs.AnyBackward() && w.gradsShared() {
		return errSharedGrads
	}
	if err := hs.RunBackward(nm.unembed, da.logits); err != nil {
		return err
	}
	L := c.NLayers
	dres := da.resid[L]
	x := a.resid[L]
	if c.HasNorm() {
		x = a.lnfOut
		dx := da.lnfOut
		w.unembedBackward(g, dx.Data, x.Data, rr)
		if err := hs.RunBackward(nm.lnfNorm, dx); err != nil {
			return err
		}
		clear(dres.Data)
		w.normBackward(dres.Data, g.LNFinalW, g.LNFinalB, dx.Data, a.resid[L].Data, a.lnfScale.Data, p.LNFinalW)
	} else {
		w.unembedBackward(g, dres.Data, x.Data, rr)
	}
	for l := L - 1; l >= 0; l-- {
		if err := hs.RunBackward(nm.residPost[l], da.resid[l+1]); err != nil {
			return err
		}
		// Below the last block the keys and values have spread the
		// gradient over every position.
		if err := w.blockBackward(g, hs, l, rr, rr != nil && l == L-1); err != nil {
			return err
		}
	}
	if rr != nil && w.foldsEmbedGrad() && !g.none() {
		return nil // blockBackward(0) updated W_E and W_pos
	}
	// resid[0] = embed + pos_embed (shortformer: embed only).
	copyGrad(da.embed.Data, da.resid[0].Data)
	if err := hs.RunBackward(nm.embed, da.embed); err != nil {
		return err
	}
	if !g.none() {
		tensor.AddRowsAt(g.WE, da.embed.Data, w.tokens, d) // nn.EmbedBackward, vectorised
	}
	// Shortformer and rotary models: resid_pre 0 = embed, no W_pos.
	if c.PositionalEmbeddingType != PosStandard {
		clear(da.posEmbed.Data)
	} else {
		copyGrad(da.posEmbed.Data, da.resid[0].Data)
	}
	if err := hs.RunBackward(nm.posEmbed, da.posEmbed); err != nil {
		return err
	}
	// nn.PosEmbedBackward's sum over the batch, as float64 column sums
	// (vectorised) rather than float32 row additions.
	if g.WPos != nil {
		tensor.ColSumAdd(g.WPos[:w.pos*d], da.posEmbed.Data, w.batch, w.pos*d)
	}
	_ = rows
	return nil
}

// unembedBackward writes dx = dlogits·W_Uᵀ (overwriting it: no clear
// needed) and accumulates the unembedding's parameter gradients; rr, if not
// nil, holds the rows where dlogits is not zero.
func (w *Workspace) unembedBackward(g *Params, dx, x []float32, rr *rowRuns) {
	c, p, dl := w.m.Cfg, w.m.P, w.grad.logits.Data
	d, V := c.DModel, c.DVocabOut
	if g.none() {
		w.unembedInputGrad(dx)
		return
	}
	if c.TiedEmbeddings {
		// logits = x·W_Eᵀ: dx = dl·W_E, dW_E += dlᵀ·x.
		w.par.Gemm(false, false, w.rows, d, V, 1, dl, V, p.WE, d, 0, dx, d)
		w.par.Gemm(true, false, V, d, w.rows, 1, dl, V, x, d, 1, g.WE, d)
		colSum(g.BU, dl, w.rows, V)
		return
	}
	w.linearBackward(rr, true, dx, g.WU, g.BU, dl, x, p.WU, d, V)
}

// linearBackward is nn.LinearBackward on w.rows rows, contiguous, except
// that dx (if not nil) is overwritten rather than accumulated if store is
// set; if rr is not nil, dy is zero outside rr's runs of rows and the
// products run on those rows only. Nil dw (and db) skip the weight
// gradient.
func (w *Workspace) linearBackward(rr *rowRuns, store bool, dx, dw, db, dy, x, wt []float32, in, out int) {
	if rr == nil {
		// nn.LinearBackward, its two products split by w.par (on the
		// caller if nil; bit-identical either way).
		if dx != nil {
			beta := float32(1)
			if store {
				beta = 0
			}
			w.par.Gemm(false, true, w.rows, in, out, 1, dy, out, wt, out, beta, dx, in)
		}
		if dw != nil {
			w.par.Gemm(true, false, in, out, w.rows, 1, x, in, dy, out, 1, dw, out)
		}
		if db != nil {
			tensor.ColSumAdd(db[:out], dy, w.rows, out)
		}
		return
	}
	rr.linearBackward(store, dx, dw, db, dy, x, wt, w.rows, in, out)
}

// normBackward accumulates into dx the gradient through the config's
// normalization applied to x with the saved scale, and into dg and db
// (unless nil) the gain's and bias's. Without them, the rows are shared
// among the runner's workers.
func (w *Workspace) normBackward(dx, dg, db, dy, x, scale, gain []float32) {
	c := w.m.Cfg
	if dg == nil && db == nil && w.runner != nil && w.rows*c.DModel >= parMinElems {
		kind := partLayerNormBackward
		if c.NormalizationType == NormRMS || c.NormalizationType == NormRMSPre {
			kind = partRMSNormBackward
		}
		w.runParts(partJob{kind: kind, n: w.rows, out: dx, dy: dy, x: x, scale: scale, g: gain}, 1)
		return
	}
	switch c.NormalizationType {
	case NormLN, NormLNPre:
		nn.LayerNormBackward(dx, dg, db, dy, x, scale, gain, w.rows, c.DModel)
	case NormRMS, NormRMSPre:
		nn.RMSNormBackward(dx, dg, dy, x, scale, gain, w.rows, c.DModel)
	}
}

// blockBackward takes the gradient at resid[l+1] to resid[l] for block l.
// rr is a Parallel shard's scratch (else nil); if sparse, it also holds the
// rows where that gradient is not zero.
func (w *Workspace) blockBackward(g *Params, hs *hooks.Set, l int, rr *rowRuns, sparse bool) error {
	scratch := rr
	if !sparse {
		rr = nil
	}
	c, a, da, nm := w.m.Cfg, &w.act, w.grad, &w.m.nm
	bp, gp := &w.m.P.Blocks[l], &g.Blocks[l]
	ba, dba := &a.blocks[l], &da.blocks[l]
	d, H, dh, rows := c.DModel, c.NHeads, c.DHead, w.rows
	hd := H * dh

	dMid := da.resid[l+1] // gradient w.r.t. resid_mid (attention-only: resid_post)
	if c.HasMLP() {
		copyGrad(dba.mlpOut.Data, da.resid[l+1].Data)
		if err := hs.RunBackward(nm.mlpOut[l], dba.mlpOut); err != nil {
			return err
		}
		w.linearBackward(rr, true, dba.mlpPost.Data, gp.WOut, gp.BOut, dba.mlpOut.Data, ba.mlpPost.Data, bp.WOut, c.DMLP, d)
		if err := hs.RunBackward(nm.mlpPost[l], dba.mlpPost); err != nil {
			return err
		}
		// The MLP reads resid_mid, or resid_pre with parallel_attn_mlp: its
		// input gradient goes to dIn (resid_pre's is added to below).
		dMid = dba.residMid
		copy(dMid.Data, da.resid[l+1].Data)
		mlpIn, dIn := ba.residMid, dMid
		if c.ParallelAttnMLP {
			mlpIn, dIn = a.resid[l], da.resid[l]
			clear(dIn.Data)
		}
		h2, dh2, store := mlpIn, dIn, false
		if c.HasNorm() {
			h2, dh2, store = ba.ln2Out, dba.ln2Out, true
		}
		if c.GatedMLP {
			if err := w.gatedMLPBackward(g, hs, l, rr, store, dh2.Data, h2.Data); err != nil {
				return err
			}
		} else {
			w.activationBackward(c.ActFn, dba.mlpPre.Data, dba.mlpPost.Data, ba.mlpPre.Data)
			if err := hs.RunBackward(nm.mlpPre[l], dba.mlpPre); err != nil {
				return err
			}
			w.linearBackward(rr, store, dh2.Data, gp.WIn, gp.BIn, dba.mlpPre.Data, h2.Data, bp.WIn, d, c.DMLP)
		}
		if c.HasNorm() {
			if err := hs.RunBackward(nm.ln2Norm[l], dba.ln2Out); err != nil {
				return err
			}
			w.normBackward(dIn.Data, gp.LN2W, gp.LN2B, dba.ln2Out.Data, mlpIn.Data, ba.ln2Scale.Data, bp.LN2W)
		}
		if !c.ParallelAttnMLP {
			if err := hs.RunBackward(nm.residMid[l], dMid); err != nil {
				return err
			}
		}
	}

	copyGrad(dba.attnOut.Data, dMid.Data)
	if err := hs.RunBackward(nm.attnOut[l], dba.attnOut); err != nil {
		return err
	}
	if hs.HasForward(nm.result[l]) || hs.HasBackward(nm.result[l]) {
		clear(dba.z.Data)
		for r := 0; r < rows; r++ {
			for hh := 0; hh < H; hh++ {
				copy(dba.result.Data[(r*H+hh)*d:][:d], dba.attnOut.Data[r*d:][:d])
			}
		}
		if err := hs.RunBackward(nm.result[l], dba.result); err != nil {
			return err
		}
		colSum(gp.BO, dba.attnOut.Data, rows, d)
		for hh := 0; hh < H; hh++ {
			if gp.WO == nil { // LinearBackwardStrided's input gradient alone
				tensor.Gemm(false, true, rows, dh, d, 1, dba.result.Data[hh*d:], H*d, bp.WO[hh*dh*d:], d, 1, dba.z.Data[hh*dh:], hd)
				continue
			}
			nn.LinearBackwardStrided(dba.z.Data[hh*dh:], gp.WO[hh*dh*d:], nil, dba.result.Data[hh*d:], ba.z.Data[hh*dh:], bp.WO[hh*dh*d:], rows, dh, d, H*d, hd, d)
		}
	} else {
		w.linearBackward(rr, true, dba.z.Data, gp.WO, gp.BO, dba.attnOut.Data, ba.z.Data, bp.WO, hd, d)
	}
	if err := hs.RunBackward(nm.z[l], dba.z); err != nil {
		return err
	}

	// The queries, keys and values attention read (rotated, repeated per
	// query head) and their gradients.
	q, k, v, dq, dk, dv := ba.q, ba.k, ba.v, dba.q, dba.k, dba.v
	if c.PositionalEmbeddingType == PosRotary {
		q, k, dq, dk = ba.rotQ, ba.rotK, dba.rotQ, dba.rotK
	}
	if c.grouped() {
		k, v, dk, dv = ba.kAttn, ba.vAttn, dba.kAttn, dba.vAttn
	}
	if w.stepwiseAttn[l] {
		clear(dq.Data)
		clear(dk.Data)
		clear(dv.Data)
		clear(dba.pattern.Data)
		nn.AttnMixBackward(dba.pattern.Data, dv.Data, dba.z.Data, ba.pattern.Data, v.Data, w.batch, w.pos, H, dh)
		if err := hs.RunBackward(nm.pattern[l], dba.pattern); err != nil {
			return err
		}
		clear(dba.scores.Data)
		nn.AttnSoftmaxBackward(dba.scores.Data, dba.pattern.Data, ba.pattern.Data, w.batch, H, w.pos)
		if err := hs.RunBackward(nm.scores[l], dba.scores); err != nil {
			return err
		}
		nn.AttnScoresBackward(dq.Data, dk.Data, dba.scores.Data, q.Data, k.Data, w.batch, w.pos, H, dh)
	} else {
		// Overwrites dq, dk, dv (no clears); with rr, dz is zero outside
		// its query rows, the only ones read.
		var lo, hi []int
		if rr != nil {
			lo, hi = rr.lo, rr.hi
		}
		w.attentionBackward(dq.Data, dk.Data, dv.Data, dba.z.Data, ba.pattern.Data, q.Data, k.Data, v.Data, lo, hi)
	}
	if err := w.attnInputsBackward(hs, l); err != nil {
		return err
	}
	for _, t := range []struct {
		n hooks.Name
		g *tensor.Tensor
	}{{nm.q[l], dba.q}, {nm.k[l], dba.k}, {nm.v[l], dba.v}} {
		if err := hs.RunBackward(t.n, t.g); err != nil {
			return err
		}
	}

	if l == 0 && scratch != nil && w.foldsEmbedGrad() && !g.none() {
		w.foldEmbedGrad(g, dMid.Data, rr, scratch)
		return nil
	}
	// Input projections. h = ln1(resid_pre) (or resid_pre itself).
	// d(resid_pre) = d(resid_mid) + the projections' input gradients; the
	// first of those is fused with the copy where it can be (GemmAdd).
	dres := da.resid[l]
	fuseRes := !c.HasNorm() && ba.qkIn == nil && rr == nil && !c.ParallelAttnMLP
	switch {
	case c.ParallelAttnMLP: // dres holds the MLP's input gradient
		tensor.Axpy(1, dMid.Data, dres.Data)
	case !fuseRes:
		copy(dres.Data, dMid.Data)
	}
	h, dh1 := a.resid[l], dres
	if c.HasNorm() {
		h, dh1 = ba.ln1Out, dba.ln1Out
		clear(dh1.Data)
	}
	qkIn, dqkIn := h, dh1
	if ba.qkIn != nil {
		qkIn = ba.qkIn
		dqkIn = dba.qkIn
		clear(dqkIn.Data)
	}
	// dq is zero where dz is (rr): each query row's gradient comes from its
	// own output row only. dk and dv are not.
	if fuseRes { // dres = dMid + dq·W_Qᵀ
		tensor.GemmAdd(false, true, rows, d, hd, 1, dba.q.Data, hd, bp.WQ, hd, dMid.Data, dres.Data, d)
		w.linearBackward(nil, false, nil, gp.WQ, gp.BQ, dba.q.Data, qkIn.Data, bp.WQ, d, hd)
	} else {
		w.linearBackward(rr, false, dqkIn.Data, gp.WQ, gp.BQ, dba.q.Data, qkIn.Data, bp.WQ, d, hd)
	}
	kvd := c.NKeyValueHeads * dh
	w.linearBackward(nil, false, dqkIn.Data, gp.WK, gp.BK, dba.k.Data, qkIn.Data, bp.WK, d, kvd)
	w.linearBackward(nil, false, dh1.Data, gp.WV, gp.BV, dba.v.Data, h.Data, bp.WV, d, kvd)
	if ba.qkIn != nil {
		tensor.Axpy(1, dqkIn.Data, dh1.Data)
		if g.WPos != nil {
			nn.PosEmbedBackward(g.WPos, dqkIn.Data, w.batch, w.pos, d)
		}
	}
	if c.HasNorm() {
		if err := hs.RunBackward(nm.ln1Norm[l], dh1); err != nil {
			return err
		}
		w.normBackward(dres.Data, gp.LN1W, gp.LN1B, dh1.Data, a.resid[l].Data, ba.ln1Scale.Data, bp.LN1W)
	}
	return hs.RunBackward(nm.residPre[l], dres)
}

// foldsEmbedGrad reports whether backward folds the first block's input
// gradient straight into W_E's and W_pos's: in Parallel's shards (which
// share copy-only gradients and run no hooks) of prunable models, where
// resid_pre 0 = embed + pos_embed feeds only linear maps. d(resid_pre 0),
// d(embed) and d(pos_embed) are then never formed (Grad reports none for
// such a workspace, whichever way its last backward ran).
func (w *Workspace) foldsEmbedGrad() bool { return w.prunable() && w.gradsShared() }

// foldEmbedGrad finishes block 0's backward when foldsEmbedGrad.
// resid_pre 0 = W_E[token] + W_pos[position] reaches the loss only through
// linear maps, so the rows of dq, dk, dv are summed per token and per
// position first (AddRowsAt, ColSumAdd), and then
//
//	d W_E   += dMid by token + Σ_{q,k,v} (dq by token)·W_Qᵀ
//	d W_pos += dMid by position + Σ (dq by position)·W_Qᵀ
//	d W_Q   += W_Eᵀ·(dq by token) + W_posᵀ·(dq by position),  d b_Q += Σ dq
//
// (likewise for K and V): [d_vocab, ·] and [pos, ·] products instead of six
// over every row. The same gradients, summed in another order.
// rr (nil unless block 0 is the last) holds the rows where dq can be
// non-zero; scratch is the shard's.
func (w *Workspace) foldEmbedGrad(g *Params, dMid []float32, rr, scratch *rowRuns) {
	c, p, da := w.m.Cfg, w.m.P, w.grad
	bp, gp, dba := &p.Blocks[0], &g.Blocks[0], &da.blocks[0]
	d, hd, V, T := c.DModel, c.NHeads*c.DHead, c.DVocab, w.pos
	_ = rr // dq may be zero outside rr's rows: the sums need not know
	tensor.AddRowsAt(g.WE, dMid, w.tokens, d)
	tensor.ColSumAdd(g.WPos[:T*d], dMid, w.batch, T*d)
	for _, t := range [...]struct{ dy, w, dw, db []float32 }{
		{dba.q.Data, bp.WQ, gp.WQ, gp.BQ}, {dba.k.Data, bp.WK, gp.WK, gp.BK}, {dba.v.Data, bp.WV, gp.WV, gp.BV},
	} {
		tok, pos := scratch.tok[:V*hd], scratch.pos[:T*hd]
		clear(tok)
		clear(pos)
		tensor.AddRowsAt(tok, t.dy, w.tokens, hd)
		tensor.ColSumAdd(pos, t.dy, w.batch, T*hd)
		tensor.Gemm(false, true, V, d, hd, 1, tok, hd, t.w, hd, 1, g.WE, d)
		tensor.Gemm(false, true, T, d, hd, 1, pos, hd, t.w, hd, 1, g.WPos, d)
		tensor.Gemm(true, false, d, hd, V, 1, p.WE, d, tok, hd, 1, t.dw, hd)
		tensor.Gemm(true, false, d, hd, T, 1, p.WPos, d, pos, hd, 1, t.dw, hd)
		if t.db != nil {
			tensor.ColSumAdd(t.db[:hd], pos, T, hd)
		}
	}
}

// colSum accumulates the column sums of y[rows, n] into dst[n] (nothing
// if dst is nil).
func colSum(dst, y []float32, rows, n int) {
	if dst == nil {
		return
	}
	for r := 0; r < rows; r++ {
		tensor.Axpy(1, y[r*n:(r+1)*n], dst)
	}
}
