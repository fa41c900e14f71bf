package discover

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/workers"
)

// EAP returns every edge's score by edge attribution patching (Syed et
// al. 2023): the first-order estimate of the metric's change when the edge
// alone is ablated,
//
//	score(u→r) = (ablated_u − clean_u) · ∂metric/∂input_r
//
// summed over batch and positions, with the gradient taken on the clean
// run. One forward and one backward pass give every score. Scores are in
// Graph().Edges order; the estimate is exact when the metric is linear in
// the receiver's input (a test holds it to that). The first attribution
// (EAP or EAPIG) lays out a workspace and every sender's ablated − clean
// output, which the experiment keeps for the next ones; the backward pass
// computes activation gradients only (Workspace.BackwardActivations).
func (e *Experiment) EAP(ctx context.Context) ([]float64, error) {
	return e.attribute(ctx, 1, false)
}

// EAPIG returns every edge's score by EAP with integrated gradients
// (Hanna, Pezzelle and Belinkov 2024): the gradient is averaged over steps
// runs whose embeddings move from their ablated value to their clean one,
// at k/steps for k = 1..steps, which accounts for the metric's curvature
// along the way (steps = 1 is EAP).
func (e *Experiment) EAPIG(ctx context.Context, steps int) ([]float64, error) {
	if steps < 1 {
		return nil, fmt.Errorf("discover: EAP-IG needs at least 1 step, got %d", steps)
	}
	return e.attribute(ctx, steps, true)
}

// attribute averages the receivers' input gradients over the steps
// interpolated runs and dots them with the senders' (ablated − clean), as
// one product per group of receivers: scores[s, r] = D[s, :]·G[r, :] with D
// [senders, rows·d_model] and G [receivers, rows·d_model], in float32
// blocks accumulated in float64, over the senders upstream of the group
// alone (a receiver reads only those).
func (e *Experiment) attribute(ctx context.Context, steps int, interpolate bool) ([]float64, error) {
	g := e.g
	S, n := len(g.Senders), e.batch*e.pos*e.c.DModel
	// One worker per core: the forward pass, the backward pass, the
	// receivers' gradients and the score products are shared among them.
	sc := e.attributionScratch()
	pool := workers.New(sc.runner.n)
	defer pool.Close()
	sc.runner.pool = pool
	defer func() { sc.runner.pool = nil }()
	sp := tensor.NewSplitter(pool)
	ws, D, G, part := sc.ws, sc.D, sc.G, sc.part
	group := len(G) / n
	const block = 1 << 14
	byRecv := make([]float64, S*len(g.Receivers)) // [receiver][sender]
	errs := make([]error, len(g.Receivers))
	for k := 1; k <= steps; k++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var hs *hooks.Set
		if interpolate {
			hs = e.interpolation(float32(k) / float32(steps))
		}
		copy(sc.flat, e.clean)
		if err := ws.Forward(ctx, sc.flat, hs); err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
		e.metric.Grad(sc.dlogits, ws.Logits())
		if err := ws.BackwardActivations(sc.dlogits, nil); err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
		for r0 := 0; r0 < len(g.Receivers); r0 += group {
			rc := min(group, len(g.Receivers)-r0)
			// Receivers come in forward order: the group's last reads
			// every sender any of them reads.
			su := len(g.into[r0+rc-1])
			clear(G[:rc*n])
			pool.Run(rc, func(worker, i int) {
				errs[r0+i] = e.inputGrad(G[i*n:(i+1)*n], ws, g.Receivers[r0+i], sc.dNorms[worker])
			})
			if err := errors.Join(errs[r0 : r0+rc]...); err != nil {
				return nil, err
			}
			// part[s, i] = D[s, blk]·G[i, blk], summed over blocks in float64.
			for b0 := 0; b0 < n; b0 += block {
				bn := min(block, n-b0)
				sp.Gemm(false, true, su, rc, bn, 1, D[b0:], n, G[b0:], n, 0, part, rc)
				for si := range su {
					for i := range rc {
						byRecv[(r0+i)*S+si] += float64(part[si*rc+i])
					}
				}
			}
		}
	}
	scores := make([]float64, len(g.Edges))
	for ei, ed := range g.Edges {
		scores[ei] = byRecv[g.receiver[ed.To]*S+g.sender[ed.From]] / float64(steps)
	}
	return scores, nil
}

// attributionScratch is what every attribution pass of an experiment
// reuses, made on the first: a workspace on one worker per core, D (every
// sender's ablated − clean output), and the buffers of the receivers'
// gradients, the logits' gradient and the score products.
type attributionScratch struct {
	runner  *poolRunner
	ws      *transformer.Workspace
	D, G    []float32 // [senders, rows·d_model], [receivers of a group, rows·d_model]
	part    []float32 // [senders, receivers of a group]
	dNorms  [][]float32
	dlogits []float32
	flat    []int32
}

// poolRunner runs the cached workspace's work on the pool of the
// attribution in progress: each attribution starts its pool and closes it
// before returning, so that no goroutine outlives the call.
type poolRunner struct {
	n    int
	pool *workers.Pool
}

func (r *poolRunner) Workers() int                        { return r.n }
func (r *poolRunner) Run(n int, task func(worker, i int)) { r.pool.Run(n, task) }

// attributionScratch returns the experiment's attribution scratch, making
// it on first use.
func (e *Experiment) attributionScratch() *attributionScratch {
	if e.attrib != nil {
		return e.attrib
	}
	g := e.g
	S, n := len(g.Senders), e.batch*e.pos*e.c.DModel
	D := make([]float32, S*n)
	for si := range S {
		row := D[si*n : (si+1)*n]
		copy(row, e.abl[si])
		tensor.Axpy(-1, e.out[si], row)
	}
	// Receivers in groups of consecutive indices (a layer's heads and
	// MLP), whose gradients are held together.
	const group = 64
	gr := min(group, len(g.Receivers))
	r := &poolRunner{n: runtime.GOMAXPROCS(0)}
	sc := &attributionScratch{
		runner:  r,
		ws:      e.m.NewWorkspaceWith(e.batch, e.pos, transformer.WorkspaceOptions{Runner: r}),
		D:       D,
		G:       make([]float32, gr*n),
		part:    make([]float32, S*gr),
		dNorms:  make([][]float32, r.n),
		dlogits: make([]float32, e.batch*e.pos*e.c.DVocabOut),
		flat:    make([]int32, len(e.clean)),
	}
	for i := range sc.dNorms {
		sc.dNorms[i] = make([]float32, e.batch*e.pos*e.c.DModel)
	}
	e.attrib = sc
	return sc
}

// interpolation returns hooks that set the embeddings to ablated +
// alpha·(clean − ablated).
func (e *Experiment) interpolation(alpha float32) *hooks.Set {
	set := func(n Node) hooks.Func {
		s := e.g.sender[n]
		return func(act *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			for i := range act.Data {
				act.Data[i] = e.abl[s][i] + alpha*(e.out[s][i]-e.abl[s][i])
			}
			return nil
		}
	}
	hs := hooks.NewSet().Add(hooks.Embed(), set(Node{Kind: Embed}))
	if _, ok := e.g.sender[Node{Kind: PosEmbed}]; ok {
		hs.Add(hooks.PosEmbed(), set(Node{Kind: PosEmbed}))
	}
	return hs
}

// inputGrad adds to dst the gradient of the last backward pass of ws with
// respect to receiver r's input (the residual stream as r alone reads it).
func (e *Experiment) inputGrad(dst []float32, ws *transformer.Workspace, r Receiver, scratch []float32) error {
	c := e.c
	rows, d, dh := e.batch*e.pos, c.DModel, c.DHead
	get := func(t func() (*tensor.Tensor, bool), what string) ([]float32, error) {
		v, ok := t()
		if !ok {
			return nil, fmt.Errorf("discover: the backward pass left no gradient at %s", what)
		}
		return v.Data, nil
	}
	grad := func(n hooks.Name) ([]float32, error) {
		return get(func() (*tensor.Tensor, bool) { return ws.Grad(n) }, string(n))
	}
	act := func(n hooks.Name) ([]float32, error) {
		return get(func() (*tensor.Tensor, bool) { return ws.Act(n) }, string(n))
	}
	l := r.Node.Layer
	var dNorm, x []float32 // gradient at the normalized input, and the input
	var err error
	which := 0
	switch r.Node.Kind {
	case Head:
		bp := &e.m.P.Blocks[l]
		name, w, heads := hooks.Q(l), bp.WQ, c.NHeads
		switch r.In {
		case K:
			name, w, heads = hooks.K(l), bp.WK, c.NKeyValueHeads
		case V:
			name, w, heads = hooks.V(l), bp.WV, c.NKeyValueHeads
		}
		dy, err := grad(name)
		if err != nil {
			return err
		}
		// dNorm = dy[:, h]·W[:, h]ᵀ   [rows, d_head]·[d_head, d_model]
		ld := heads * dh
		dNorm = scratch[:rows*d]
		tensor.Gemm(false, true, rows, d, dh, 1, dy[r.Node.Head*dh:], ld, w[r.Node.Head*dh:], ld, 0, dNorm, d)
		if x, err = act(hooks.ResidPre(l)); err != nil {
			return err
		}
		which = 1
	case MLP:
		if c.HasNorm() {
			if dNorm, err = grad(hooks.LN2Normalized(l)); err != nil {
				return err
			}
		} else if dNorm, err = e.mlpInputGrad(ws, l); err != nil {
			return err
		}
		src := hooks.ResidMid(l)
		if c.ParallelAttnMLP {
			src = hooks.ResidPre(l)
		}
		if c.HasNorm() {
			if x, err = act(src); err != nil {
				return err
			}
		}
		which = 2
	case Logits:
		if c.HasNorm() {
			if dNorm, err = grad(hooks.LNFinalNormalized()); err != nil {
				return err
			}
			if x, err = act(hooks.ResidPost(c.NLayers - 1)); err != nil {
				return err
			}
		} else if dNorm, err = grad(hooks.ResidPost(c.NLayers - 1)); err != nil {
			return err
		}
		l = -1
	}
	if !c.HasNorm() {
		tensor.Axpy(1, dNorm, dst)
		return nil
	}
	scaleName := hooks.LNFinalScale()
	switch which {
	case 1:
		scaleName = hooks.LN1Scale(l)
	case 2:
		scaleName = hooks.LN2Scale(l)
	}
	scale, err := act(scaleName)
	if err != nil {
		return err
	}
	e.normBackward(dst, dNorm, x, scale, l, which)
	return nil
}

// mlpInputGrad returns the gradient with respect to the input of layer l's
// MLP of a model without normalization: dpre·W_inᵀ, or for a gated MLP
// dpre·W_gateᵀ + dpre_linear·W_inᵀ.
func (e *Experiment) mlpInputGrad(ws *transformer.Workspace, l int) ([]float32, error) {
	c, bp := e.c, &e.m.P.Blocks[l]
	rows, d, f := e.batch*e.pos, c.DModel, c.DMLP
	out := make([]float32, rows*d)
	pre, ok := ws.Grad(hooks.MLPPre(l))
	if !ok {
		return nil, fmt.Errorf("discover: no gradient at %s", hooks.MLPPre(l))
	}
	if !c.GatedMLP {
		tensor.Gemm(false, true, rows, d, f, 1, pre.Data, f, bp.WIn, f, 0, out, d)
		return out, nil
	}
	lin, ok := ws.Grad(hooks.MLPPreLinear(l))
	if !ok {
		return nil, fmt.Errorf("discover: no gradient at %s", hooks.MLPPreLinear(l))
	}
	tensor.Gemm(false, true, rows, d, f, 1, pre.Data, f, bp.WGate, f, 0, out, d)
	tensor.Gemm(false, true, rows, d, f, 1, lin.Data, f, bp.WIn, f, 1, out, d)
	return out, nil
}

// normBackward adds to dst the gradient with respect to x of the
// normalization normalize(·, l, which) given dy, its output's gradient,
// and the forward pass's scale.
func (e *Experiment) normBackward(dst, dy, x, scale []float32, l, which int) {
	c, p := e.c, e.m.P
	rows, d := e.batch*e.pos, c.DModel
	var w []float32
	switch {
	case l < 0:
		w = p.LNFinalW
	case which == 1:
		w = p.Blocks[l].LN1W
	default:
		w = p.Blocks[l].LN2W
	}
	switch c.NormalizationType {
	case transformer.NormLN, transformer.NormLNPre:
		nn.LayerNormBackward(dst, nil, nil, dy, x, scale, w, rows, d)
	case transformer.NormRMS, transformer.NormRMSPre:
		nn.RMSNormBackward(dst, nil, dy, x, scale, w, rows, d)
	}
}
