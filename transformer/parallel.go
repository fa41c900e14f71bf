package transformer

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/workers"
)

// Parallel computes the loss and gradient of a batch data-parallel: the
// batch is cut into a fixed number of shards, each with its own workspace
// and gradient buffer, processed by the calling goroutine and a pool of
// persistent helper goroutines (workers in all, a workers.Pool), each taking
// the next unclaimed shard, and the shard gradients are summed in shard order.
// Because the shards and the reduction order do not depend on the number of
// workers or on who ran which shard, the result is bit-identical whatever
// the worker count.
//
// A Parallel is used by one goroutine at a time. Close stops its helpers.
type Parallel struct {
	m          *Model
	batch, pos int
	shards     []shard
	sumW       float64
	pool       *workers.Pool
	shardTask  func(worker, i int) // p.runShard as a func value, made once
	tokens     []int32
	targets    []int32
	weights    []float32
}

type shard struct {
	b0, n int // first sequence and number of sequences
	ws    *Workspace
	rr    *rowRuns // the rows of non-zero weight, for backward
	g     *Params
	loss  float64
	sumW  float64
	err   error
}

// NewParallel returns a data-parallel evaluator for batches of batch
// sequences of pos tokens, cut into nShards shards (at most batch), run by
// nWorkers goroutines: the caller of Step and nWorkers−1 helpers. It returns
// an error on impossible sizes.
func (m *Model) NewParallel(batch, pos, nShards, nWorkers int) (*Parallel, error) {
	switch {
	case batch < 1 || pos < 1 || pos > m.Cfg.NCtx:
		return nil, fmt.Errorf("transformer: batch %d × pos %d does not fit (n_ctx %d)", batch, pos, m.Cfg.NCtx)
	case nShards < 1 || nWorkers < 1:
		return nil, fmt.Errorf("transformer: need at least one shard and one worker, got %d and %d", nShards, nWorkers)
	}
	if err := m.Cfg.checkTrainable("parallel"); err != nil {
		return nil, err
	}
	nShards = min(nShards, batch)
	p := &Parallel{m: m, batch: batch, pos: pos}
	for s := 0; s < nShards; s++ {
		b0 := s * batch / nShards
		n := (s+1)*batch/nShards - b0
		ws := m.NewWorkspace(n, pos)
		ws.shareCopyGrads() // shards run no hooks: skip copying gradients
		p.shards = append(p.shards, shard{b0: b0, n: n, ws: ws, rr: newRowRuns(m.Cfg, n, pos), g: m.NewGrads()})
	}
	p.shardTask = p.runShard
	p.pool = workers.New(nWorkers)
	return p, nil
}

// Close stops the helpers and waits for them to exit.
func (p *Parallel) Close() { p.pool.Close() }

// runShard computes shard i's loss and gradient (on any worker).
func (p *Parallel) runShard(_, i int) {
	s := &p.shards[i]
	lo, hi := s.b0*p.pos, (s.b0+s.n)*p.pos
	// Only the rows of non-zero weight reach the loss: the shard computes
	// the rest of the last block and the unembedding on those alone, and
	// backward likewise (forwardRows, backwardScaled).
	s.rr.set(p.weights[lo:hi], p.pos)
	s.err = s.ws.forwardRows(context.Background(), p.tokens[lo:hi], s.rr)
	if s.err != nil {
		return
	}
	s.sumW = tensor.Sum(p.weights[lo:hi])
	s.loss = s.ws.lossRows(p.targets[lo:hi], p.weights[lo:hi], s.rr)
	clear(s.g.data)
	if s.sumW == 0 {
		return
	}
	s.err = s.ws.backwardScaled(s.g, nil, float32(s.sumW/p.sumW), s.rr)
}

// Step computes the weighted mean cross-entropy of the batch (tokens,
// targets and weights are [batch·pos]; see NextTokenTargets) and writes its
// gradient into g (overwriting it). It allocates nothing.
func (p *Parallel) Step(ctx context.Context, tokens, targets []int32, weights []float32, g *Params) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := p.batch * p.pos
	if len(tokens) != n || len(targets) != n || len(weights) != n {
		return 0, fmt.Errorf("transformer: parallel step wants %d tokens, targets and weights, got %d, %d, %d", n, len(tokens), len(targets), len(weights))
	}
	p.tokens, p.targets, p.weights = tokens, targets, weights
	p.sumW = tensor.Sum(weights)
	p.pool.Run(len(p.shards), p.shardTask) // the caller works too
	var loss float64
	for i := range p.shards {
		s := &p.shards[i]
		if s.err != nil {
			return 0, s.err
		}
		if p.sumW > 0 {
			loss += s.loss * s.sumW / p.sumW
		}
	}
	// Sum shard gradients in shard order: the result is independent of
	// which worker ran which shard.
	copy(g.data, p.shards[0].g.data)
	for i := 1; i < len(p.shards); i++ {
		tensor.Axpy(1, p.shards[i].g.data, g.data)
	}
	return loss, nil
}

// Workspace returns shard i's workspace (its activations and their
// gradients from the last Step), for telemetry. In attention-only models
// without normalization, the last block's attn_out and resid_post and the
// logits hold only the rows of non-zero weight (forwardRows). Its copy-only
// activation gradients share buffers (see shareCopyGrads), so it refuses
// backward hooks.
func (p *Parallel) Workspace(i int) *Workspace { return p.shards[i].ws }

// rowRuns is a Parallel shard's view of where its loss is, and its
// scratch. For each sequence of the shard's batch it holds the range of
// positions [lo, hi) from the first to the last of non-zero loss weight
// (empty if none), outside which the gradient of the logits is exactly zero,
// also as row runs of the batch. In the induction task only the second copy
// of the repeated block is scored, a third of the rows: forwardRows and
// backwardScaled compute what only these rows need — the unembedding, and in
// the last block W_O, the attention's queries and W_Q (and the MLP's
// gradients), before the keys and values spread the gradient over earlier
// positions — on the runs alone, one GEMM per run. The scratch holds a
// transposed weight (so that runs need no repacking) and the tables and
// sums per token and position of block 0 (forwardRows, foldEmbedGrad).
type rowRuns struct {
	lo, hi   []int    // per sequence
	runs     [][2]int // the non-empty ranges as rows of the batch
	wT       []float32
	tok, pos []float32 // foldEmbedGrad's sums per token and per position
	// forwardRows' tables of block 0's q, k, v per token and position
	qkvTok, qkvPos [3][]float32
}

// newRowRuns returns rowRuns for batch sequences of pos tokens of model c.
func newRowRuns(c Config, batch, pos int) *rowRuns {
	n, hd := max(c.DModel*c.DVocabOut, c.DModel*c.NHeads*c.DHead, c.DModel*c.DMLP), c.NHeads*c.DHead
	r := &rowRuns{lo: make([]int, batch), hi: make([]int, batch), runs: make([][2]int, 0, batch), wT: make([]float32, n),
		tok: make([]float32, c.DVocab*hd), pos: make([]float32, pos*hd)}
	for i := range 3 {
		r.qkvTok[i], r.qkvPos[i] = make([]float32, c.DVocab*hd), make([]float32, pos*hd)
	}
	return r
}

// set records the ranges of non-zero weights, [batch·pos].
func (r *rowRuns) set(weights []float32, pos int) {
	r.runs = r.runs[:0]
	for b := range r.lo {
		seq := weights[b*pos : (b+1)*pos]
		lo, hi := 0, 0
		for i, v := range seq {
			if v != 0 {
				if hi == 0 {
					lo = i
				}
				hi = i + 1
			}
		}
		r.lo[b], r.hi[b] = lo, hi
		if hi > lo {
			r.runs = append(r.runs, [2]int{b*pos + lo, b*pos + hi})
		}
	}
}

// linearBackward is nn.LinearBackward on rows contiguous rows where dy is
// zero outside the runs: dx (if not nil) += dy·wtᵀ, or = if store (rows
// outside the runs then zeroed), dw += xᵀ·dy and db += Σ_rows dy, with wt
// [in, out] transposed once into r.wT so that each run is a plain product.
func (r *rowRuns) linearBackward(store bool, dx, dw, db, dy, x, wt []float32, rows, in, out int) {
	if dx != nil {
		wT := r.wT[:out*in] // [out, in]
		for i := range in {
			for j, v := range wt[i*out : (i+1)*out] {
				wT[j*in+i] = v
			}
		}
		beta := float32(1)
		if store {
			beta = 0
			prev := 0
			for _, run := range r.runs {
				clear(dx[prev*in : run[0]*in])
				prev = run[1]
			}
			clear(dx[prev*in : rows*in])
		}
		for _, run := range r.runs {
			lo, n := run[0], run[1]-run[0]
			tensor.Gemm(false, false, n, in, out, 1, dy[lo*out:], out, wT, in, beta, dx[lo*in:], in)
		}
	}
	for _, run := range r.runs {
		if dw == nil {
			break
		}
		lo, n := run[0], run[1]-run[0]
		tensor.Gemm(true, false, in, out, n, 1, x[lo*in:], in, dy[lo*out:], out, 1, dw, out)
	}
	if db != nil {
		tensor.ColSumAdd(db[:out], dy, rows, out) // zeros add nothing: the same bits
	}
}
