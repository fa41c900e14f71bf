package transformer

import (
	"github.com/mechinterp/workbench/nn"
)

// Activation-only backward passes (BackwardActivations) and the parts of
// backward shared among a workspace's runner.

// noGrads returns the workspace's gradient-free Params: every slice nil,
// which backward reads as "compute no parameter gradient".
func (w *Workspace) noGrads() *Params {
	if w.none == nil {
		w.none = &Params{Blocks: make([]BlockParams, w.m.Cfg.NLayers)}
	}
	return w.none
}

// none reports whether g is a gradient-free Params (noGrads): every model
// has W_E.
func (g *Params) none() bool { return g.WE == nil }

// unembedInputGrad overwrites dx with dlogits·W_Uᵀ (tied: ·W_E), the
// unembedding's input gradient, computed on the rows where dlogits is not
// zero alone when they are fewer than half: those rows are gathered into
// one product and scattered back, the others set to zero.
func (w *Workspace) unembedInputGrad(dx []float32) {
	c, p, dl := w.m.Cfg, w.m.P, w.grad.logits.Data
	d, V := c.DModel, c.DVocabOut
	transB, wt, ldw := true, p.WU, V // W_U [d_model, d_vocab_out]
	if c.TiedEmbeddings {
		transB, wt, ldw = false, p.WE, d // W_E [d_vocab, d_model]
	}
	rows := w.liveRows[:0]
	for r := range w.rows {
		for _, v := range dl[r*V : (r+1)*V] {
			if v != 0 {
				rows = append(rows, r)
				break
			}
		}
	}
	w.liveRows = rows
	if 2*len(rows) > w.rows {
		w.par.Gemm(false, transB, w.rows, d, V, 1, dl, V, wt, ldw, 0, dx, d)
		return
	}
	n := len(rows)
	if cap(w.liveBuf) < n*(V+d) {
		w.liveBuf = make([]float32, n*(V+d))
	}
	dy, out := w.liveBuf[:n*V], w.liveBuf[n*V:n*(V+d)]
	for i, r := range rows {
		copy(dy[i*V:(i+1)*V], dl[r*V:(r+1)*V])
	}
	clear(dx[:w.rows*d])
	if n == 0 {
		return
	}
	w.par.Gemm(false, transB, n, d, V, 1, dy, V, wt, ldw, 0, out, d)
	for i, r := range rows {
		copy(dx[r*d:(r+1)*d], out[i*d:(i+1)*d])
	}
}

// attentionBackward is nn.AttentionBackwardQueries on the workspace's
// batch, its sequences shared among the runner's workers (each with its own
// scratch): every sequence's gradients depend on that sequence alone.
func (w *Workspace) attentionBackward(dq, dk, dv, dz, pattern, q, k, v []float32, lo, hi []int) {
	c := w.m.Cfg
	if w.runner == nil || w.batch == 1 {
		nn.AttentionBackwardQueries(dq, dk, dv, dz, pattern, q, k, v, w.scratch, w.batch, w.pos, c.NHeads, c.DHead, lo, hi)
		return
	}
	if len(w.workerScratch) == 0 {
		w.workerScratch = make([][]float32, w.runner.Workers())
		for i := range w.workerScratch {
			w.workerScratch[i] = make([]float32, w.pos*w.pos)
		}
	}
	w.runParts(partJob{kind: partAttentionBackward, n: w.batch, dq: dq, dk: dk, dv: dv, dy: dz, pattern: pattern, q: q, k: k, v: v, lo: lo, hi: hi}, 1)
}

// activationBackward is activationBackward, elementwise, shared among the
// runner's workers.
func (w *Workspace) activationBackward(act string, dx, dy, x []float32) {
	if w.runner == nil || len(dx) < parMinElems {
		activationBackward(act, dx, dy, x)
		return
	}
	w.runParts(partJob{kind: partActivateBackward, n: len(dx), out: dx, dy: dy, x: x, act: act}, 64)
}

// runBackwardPart runs items [lo, hi) of w.job, a backward kind, on worker.
func (w *Workspace) runBackwardPart(worker, lo, hi int) {
	c, j := w.m.Cfg, &w.job
	switch j.kind {
	case partAttentionBackward: // sequences [lo, hi)
		H, T := c.NHeads, w.pos
		n, np := T*H*c.DHead, H*T*T // per sequence: q-like tensors, the pattern
		var qlo, qhi []int
		if j.lo != nil {
			qlo, qhi = j.lo[lo:hi], j.hi[lo:hi]
		}
		part := func(x []float32) []float32 {
			if x == nil {
				return nil
			}
			return x[lo*n : hi*n]
		}
		nn.AttentionBackwardQueries(part(j.dq), part(j.dk), part(j.dv), part(j.dy), j.pattern[lo*np:hi*np],
			part(j.q), part(j.k), part(j.v), w.workerScratch[worker], hi-lo, T, H, c.DHead, qlo, qhi)
	case partLayerNormBackward, partRMSNormBackward: // rows [lo, hi)
		d := c.DModel
		dx, dy, x, scale := j.out[lo*d:hi*d], j.dy[lo*d:hi*d], j.x[lo*d:hi*d], j.scale[lo:hi]
		if j.kind == partLayerNormBackward {
			nn.LayerNormBackward(dx, nil, nil, dy, x, scale, j.g, hi-lo, d)
		} else {
			nn.RMSNormBackward(dx, nil, dy, x, scale, j.g, hi-lo, d)
		}
	case partActivateBackward: // elements [lo, hi)
		activationBackward(j.act, j.out[lo:hi], j.dy[lo:hi], j.x[lo:hi])
	}
}
