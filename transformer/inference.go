package transformer

import (
	"errors"
	"runtime"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/workers"
)

// WorkspaceOptions configure a workspace made by NewWorkspaceWith. The zero
// value is NewWorkspace's workspace.
type WorkspaceOptions struct {
	// Runner, if not nil, runs Forward's large products, attention, norms
	// and activations on its goroutines: typically a *workers.Pool with one
	// worker per core, made, shared and closed by the caller. The results
	// are bit-identical to a workspace without one. Leave it nil where the
	// cores are already busy, as in Parallel's data-parallel shards.
	Runner tensor.Runner

	// Inference lays out one set of block activations that every block
	// reuses in turn, instead of one set per block: the memory of a forward
	// pass no longer grows with n_layers beyond the residual stream (for
	// GPT-2 small at 8×128 tokens, 60 MB instead of 720 MB). Forward, Loss,
	// Logits, Resid and forward hooks (caches copy what they match) work as
	// before; Backward returns an error, and Pattern and Act return nothing
	// for the activations of a block other than the last.
	Inference bool
}

// errInference is returned by Backward on an inference workspace.
var errInference = errors.New("transformer: backward on an inference workspace (it keeps one block's activations); make it with NewWorkspace")

// NewWorkspaceWith is NewWorkspace with options. It panics as NewWorkspace
// does.
func (m *Model) NewWorkspaceWith(batch, pos int, o WorkspaceOptions) *Workspace {
	w := m.newWorkspace(batch, pos, o.Inference)
	if o.Runner != nil && o.Runner.Workers() > 1 {
		w.runner = o.Runner
		w.par = tensor.NewSplitter(o.Runner)
		w.partTask = w.runPart
	}
	return w
}

// runParallelWork is the size of a forward pass, in tokens × parameters
// (about its multiply-adds), from which Model.Run starts a pool of one
// worker per core for it: GPT-2 small on 8 tokens, not the toy models.
const runParallelWork = 1 << 30

// runWorkspace returns an inference workspace for one forward pass of Run,
// with a pool of one worker per core if the pass is at least
// runParallelWork, and the function that stops that pool.
func (m *Model) runWorkspace(batch, pos int) (*Workspace, func()) {
	o := WorkspaceOptions{Inference: true}
	if n := runtime.GOMAXPROCS(0); n > 1 && int64(batch*pos)*int64(len(m.P.data)) >= runParallelWork {
		pool := workers.New(n)
		o.Runner = pool
		return m.NewWorkspaceWith(batch, pos, o), pool.Close
	}
	return m.NewWorkspaceWith(batch, pos, o), func() {}
}

// checkBackward returns errInference on an inference workspace.
func (w *Workspace) checkBackward() error {
	if w.inference {
		return errInference
	}
	return nil
}

// hidesAct reports whether name is an activation of a block other than
// the last that an inference workspace no longer holds.
func (w *Workspace) hidesAct(name hooks.Name) bool {
	if !w.inference {
		return false
	}
	l := name.Layer()
	if l < 0 || l >= w.m.Cfg.NLayers-1 {
		return false
	}
	nm := &w.m.nm
	return name != nm.residPre[l] && name != nm.residPost[l]
}

// Parallel parts of Forward. Each kind of work is cut into about
// partsPerWorker parts a worker so that a worker slowed by another process
// leaves its share to the others; elementwise work below parMinElems
// elements stays on the caller.
const (
	partsPerWorker = 4
	parMinElems    = 1 << 15
)

type partKind int

const (
	partAttention partKind = iota
	partLayerNorm
	partRMSNorm
	partActivate
	partAttentionBackward // sequences
	partLayerNormBackward // rows, no gain or bias gradient
	partRMSNormBackward
	partActivateBackward
)

// partJob is the work the runner's workers share in one call: a kind and
// its arguments (the slices of the workspace's tensors).
type partJob struct {
	kind                        partKind
	n, step                     int // items (pairs, rows or elements) and items per part
	z, scores, pattern, q, k, v []float32
	out, scale, x, g, b         []float32
	eps                         float32
	act                         string
	dq, dk, dv, dy              []float32 // backward parts
	lo, hi                      []int     // attention backward's query ranges (nil: all)
}

// runParts runs job in parts on the runner.
func (w *Workspace) runParts(job partJob, align int) {
	job.step = max(ceilDiv(job.n, w.runner.Workers()*partsPerWorker), 1)
	job.step = ceilDiv(job.step, align) * align
	w.job = job
	w.runner.Run(ceilDiv(job.n, job.step), w.partTask)
	w.job = partJob{} // keep no references to the tensors
}

// runPart runs part i of w.job (on any worker).
func (w *Workspace) runPart(worker, i int) {
	j := &w.job
	lo := i * j.step
	hi := min(lo+j.step, j.n)
	if lo >= hi {
		return
	}
	c := w.m.Cfg
	switch j.kind {
	case partAttention:
		nn.AttentionForwardPairs(j.z, j.scores, j.pattern, j.q, j.k, j.v, w.batch, w.pos, c.NHeads, c.DHead, lo, hi)
	case partLayerNorm, partRMSNorm:
		d := c.DModel
		out, scale, x := j.out[lo*d:hi*d], j.scale[lo:hi], j.x[lo*d:hi*d]
		if j.kind == partLayerNorm {
			nn.LayerNormForward(out, scale, x, j.g, j.b, hi-lo, d, j.eps)
		} else {
			nn.RMSNormForward(out, scale, x, j.g, hi-lo, d, j.eps)
		}
	case partActivate:
		activate(j.act, j.out[lo:hi], j.x[lo:hi])
	default:
		w.runBackwardPart(worker, lo, hi)
	}
}

// attention is nn.AttentionForward over the workspace's batch and heads,
// its (batch, head) pairs shared among the runner's workers.
func (w *Workspace) attention(z, scores, pattern, q, k, v []float32) {
	c := w.m.Cfg
	if w.runner == nil {
		nn.AttentionForward(z, scores, pattern, q, k, v, w.batch, w.pos, c.NHeads, c.DHead)
		return
	}
	w.runParts(partJob{kind: partAttention, n: w.batch * c.NHeads, z: z, scores: scores, pattern: pattern, q: q, k: k, v: v}, 1)
}

// normRows applies LayerNorm (or RMSNorm without b) to the rows of x,
// shared among the runner's workers.
func (w *Workspace) normRows(rms bool, out, scale, x, g, b []float32, eps float32) {
	d := w.m.Cfg.DModel
	switch {
	case w.runner != nil && w.rows*d >= parMinElems:
		kind := partLayerNorm
		if rms {
			kind = partRMSNorm
		}
		w.runParts(partJob{kind: kind, n: w.rows, out: out, scale: scale, x: x, g: g, b: b, eps: eps}, 1)
	case rms:
		nn.RMSNormForward(out, scale, x, g, w.rows, d, eps)
	default:
		nn.LayerNormForward(out, scale, x, g, b, w.rows, d, eps)
	}
}

// activatePar is activate shared among the runner's workers.
func (w *Workspace) activatePar(act string, y, x []float32) {
	if w.runner == nil || len(y) < parMinElems {
		activate(act, y, x)
		return
	}
	w.runParts(partJob{kind: partActivate, n: len(y), out: y, x: x, act: act}, 64)
}

// linear is nn.LinearForward with the product split by w.par (on the
// caller if nil).
func (w *Workspace) linear(y, x, wt, b []float32, rows, in, out int) {
	linearPar(w.par, y, x, wt, b, rows, in, out, out, in, out)
}

// linearPar is nn.LinearForwardStrided with the product split by s (on
// the caller if s is nil).
func linearPar(s *tensor.Splitter, y, x, wt, b []float32, rows, in, out, ldy, ldx, ldw int) {
	if b != nil {
		s.GemmBias(rows, out, in, 1, x, ldx, wt, ldw, b, y, ldy)
		return
	}
	s.Gemm(false, false, rows, out, in, 1, x, ldx, wt, ldw, 0, y, ldy)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
