package transformer

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// Workspace holds the activations of one forward pass (and, after the first
// Backward, their gradients) for a fixed batch size and number of positions,
// laid out once in one allocation. Reusing a Workspace makes forward and
// backward passes allocation-free. A Workspace belongs to one goroutine at a
// time; many Workspaces may share one Model.
type Workspace struct {
	m          *Model
	batch, pos int
	rows       int
	tokens     []int32

	act  acts
	grad *acts // gradients with respect to each activation, lazily laid out

	probs        []float32 // softmax of the logits, for the loss backward
	targets      []int32
	weights      []float32
	scratch      []float32 // attention backward scratch, pos×pos
	stepwiseAttn []bool    // per layer: the last forward ran attention step by step
	rotCos       []float32 // rotary models: cos and sin of position·θ_i, [pos, rotary_dim/2]
	rotSin       []float32

	inference bool                // one set of block activations, reused by every block (WorkspaceOptions)
	runner    tensor.Runner       // nil: everything on the calling goroutine
	par       *tensor.Splitter    // the runner's GEMMs; nil without a runner
	job       partJob             // the runner's current work (runParts)
	partTask  func(worker, i int) // w.runPart as a func value, made once

	// BackwardActivations' and the split backward's scratch, made on first use.
	none          *Params     // noGrads
	liveRows      []int       // rows of non-zero logits gradient
	liveBuf       []float32   // those rows' gradients and input gradients
	workerScratch [][]float32 // attention backward's, one per runner worker
}

// acts is one set of activation buffers. Every tensor has the shape of its
// hook point. Absent parts of the architecture have nil tensors.
type acts struct {
	embed, posEmbed *tensor.Tensor // [batch, pos, d_model]
	resid           []*tensor.Tensor
	blocks          []blockActs
	lnfScale        *tensor.Tensor // [batch, pos, 1]
	lnfOut          *tensor.Tensor // [batch, pos, d_model]
	logits          *tensor.Tensor // [batch, pos, d_vocab_out]
}

// blockActs are one block's activations. resid[l] is block l's resid_pre
// and resid[l+1] its resid_post (the same buffer, as in the residual stream).
type blockActs struct {
	ln1Scale, ln1Out *tensor.Tensor // [batch, pos, 1], [batch, pos, d_model]
	qkIn             *tensor.Tensor // shortformer only: ln1Out + W_pos, [batch, pos, d_model]
	q, k, v, z       *tensor.Tensor // [batch, pos, head, d_head] (k, v: n_key_value_heads heads)
	rotQ, rotK       *tensor.Tensor // rotary: q and k rotated by position
	kAttn, vAttn     *tensor.Tensor // grouped-query: keys and values repeated to one per query head
	mlpPreLinear     *tensor.Tensor // gated MLP: x·W_in, [batch, pos, d_mlp]
	scores, pattern  *tensor.Tensor // [batch, head, pos, pos]
	result           *tensor.Tensor // [batch, pos, head, d_model]
	attnOut          *tensor.Tensor // [batch, pos, d_model]
	residMid         *tensor.Tensor // [batch, pos, d_model] (MLP models)
	ln2Scale, ln2Out *tensor.Tensor
	mlpPre, mlpPost  *tensor.Tensor // [batch, pos, d_mlp]
	mlpOut           *tensor.Tensor // [batch, pos, d_model]
}

// layoutActs requests every activation buffer from a; with shared, every
// block's activations (but not the residual stream) are the first block's.
func layoutActs(c Config, a *tensor.Arena, batch, pos int, shared bool) acts {
	d, H, dh := c.DModel, c.NHeads, c.DHead
	var s acts
	s.embed = a.Alloc(batch, pos, d)
	s.posEmbed = a.Alloc(batch, pos, d)
	s.resid = make([]*tensor.Tensor, c.NLayers+1)
	s.resid[0] = a.Alloc(batch, pos, d)
	s.blocks = make([]blockActs, c.NLayers)
	for l := range s.blocks {
		b := &s.blocks[l]
		if shared && l > 0 {
			*b = s.blocks[0]
			s.resid[l+1] = a.Alloc(batch, pos, d)
			continue
		}
		if c.HasNorm() {
			b.ln1Scale = a.Alloc(batch, pos, 1)
			b.ln1Out = a.Alloc(batch, pos, d)
		}
		if c.PositionalEmbeddingType == PosShortformer {
			b.qkIn = a.Alloc(batch, pos, d)
		}
		b.q = a.Alloc(batch, pos, H, dh)
		b.k = a.Alloc(batch, pos, c.NKeyValueHeads, dh)
		b.v = a.Alloc(batch, pos, c.NKeyValueHeads, dh)
		if c.PositionalEmbeddingType == PosRotary {
			b.rotQ = a.Alloc(batch, pos, H, dh)
			b.rotK = a.Alloc(batch, pos, c.NKeyValueHeads, dh)
		}
		if c.grouped() {
			b.kAttn = a.Alloc(batch, pos, H, dh)
			b.vAttn = a.Alloc(batch, pos, H, dh)
		}
		b.z = a.Alloc(batch, pos, H, dh)
		b.scores = a.Alloc(batch, H, pos, pos)
		b.pattern = a.Alloc(batch, H, pos, pos)
		b.result = a.Alloc(batch, pos, H, d)
		b.attnOut = a.Alloc(batch, pos, d)
		if c.HasMLP() {
			b.residMid = a.Alloc(batch, pos, d)
			if c.HasNorm() {
				b.ln2Scale = a.Alloc(batch, pos, 1)
				b.ln2Out = a.Alloc(batch, pos, d)
			}
			b.mlpPre = a.Alloc(batch, pos, c.DMLP)
			if c.GatedMLP {
				b.mlpPreLinear = a.Alloc(batch, pos, c.DMLP)
			}
			b.mlpPost = a.Alloc(batch, pos, c.DMLP)
			b.mlpOut = a.Alloc(batch, pos, d)
		}
		s.resid[l+1] = a.Alloc(batch, pos, d)
	}
	if c.HasNorm() {
		s.lnfScale = a.Alloc(batch, pos, 1)
		s.lnfOut = a.Alloc(batch, pos, d)
	}
	s.logits = a.Alloc(batch, pos, c.DVocabOut)
	return s
}

func newActs(c Config, batch, pos int) *acts { return layoutSharedActs(c, batch, pos, false) }

// layoutSharedActs is newActs with layoutActs's shared.
func layoutSharedActs(c Config, batch, pos int, shared bool) *acts {
	plan := tensor.NewPlan()
	layoutActs(c, plan, batch, pos, shared)
	a := layoutActs(c, tensor.NewArena(plan.Len()), batch, pos, shared)
	return &a
}

// NewWorkspace returns a workspace for batches of batch sequences of pos
// tokens. It panics if batch < 1 or pos is outside [1, n_ctx] (callers
// reached by user input validate first, as CheckTokens does).
func (m *Model) NewWorkspace(batch, pos int) *Workspace { return m.newWorkspace(batch, pos, false) }

// newWorkspace is NewWorkspace, with block activations shared for
// inference.
func (m *Model) newWorkspace(batch, pos int, inference bool) *Workspace {
	if batch < 1 || pos < 1 || pos > m.Cfg.NCtx {
		panic(tensor.ShapeError{Op: "NewWorkspace", Msg: fmt.Sprintf("batch %d, pos %d (n_ctx %d)", batch, pos, m.Cfg.NCtx)})
	}
	rows := batch * pos
	cos, sin := rotaryTables(m.Cfg, pos)
	return &Workspace{
		rotCos: cos, rotSin: sin,
		m: m, batch: batch, pos: pos, rows: rows,
		tokens:       make([]int32, rows),
		act:          *layoutSharedActs(m.Cfg, batch, pos, inference),
		inference:    inference,
		probs:        make([]float32, rows*m.Cfg.DVocabOut),
		targets:      make([]int32, rows),
		weights:      make([]float32, rows),
		scratch:      make([]float32, pos*pos),
		stepwiseAttn: make([]bool, m.Cfg.NLayers),
	}
}

// Model returns the model the workspace runs.
func (w *Workspace) Model() *Model { return w.m }

// Batch and Pos return the workspace's dimensions.
func (w *Workspace) Batch() int { return w.batch }

// Pos returns the number of positions per sequence.
func (w *Workspace) Pos() int { return w.pos }

// Logits returns the last forward pass's logits, [batch, pos, d_vocab_out],
// a view that the next pass overwrites.
func (w *Workspace) Logits() *tensor.Tensor { return w.act.logits }

// Resid returns the residual stream entering block l (l = n_layers gives the
// final residual), [batch, pos, d_model], a view.
func (w *Workspace) Resid(l int) *tensor.Tensor { return w.act.resid[l] }

// Pattern returns block l's attention pattern, [batch, head, pos, pos], a
// view; nil on an inference workspace for a block other than the last.
func (w *Workspace) Pattern(l int) *tensor.Tensor {
	if w.inference && l != w.m.Cfg.NLayers-1 {
		return nil
	}
	return w.act.blocks[l].pattern
}

// Forward runs the model on tokens ([batch·pos] ids, validated by the
// caller: use Model.CheckTokens on user input), calling hs's forward hooks.
// It returns ctx's error if ctx is done before it starts, or a hook's error.
func (w *Workspace) Forward(ctx context.Context, tokens []int32, hs *hooks.Set) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(tokens) != w.rows {
		return fmt.Errorf("transformer: forward got %d tokens, workspace holds %d×%d", len(tokens), w.batch, w.pos)
	}
	copy(w.tokens, tokens)
	return w.forward(hs, 0, w.m.Cfg.NLayers, true, true)
}

// Loss computes the weighted mean cross-entropy of the last forward pass's
// logits against targets ([batch·pos]; positions with weight 0 are ignored)
// and keeps what Backward needs. Both slices are copied.
func (w *Workspace) Loss(targets []int32, weights []float32) float64 {
	copy(w.targets, targets)
	copy(w.weights, weights)
	return nn.CrossEntropyForward(w.probs, w.act.logits.Data, w.targets, w.weights, w.rows, w.m.Cfg.DVocabOut)
}
