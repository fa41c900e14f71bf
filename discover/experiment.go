package discover

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/patching"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// Ablation is what an edge outside a circuit carries in place of its
// sender's output.
type Ablation uint8

const (
	// Corrupted: the sender's output on the corrupted batch (the default;
	// interchange ablation, as ACDC and EAP use).
	Corrupted Ablation = iota
	// Mean: the sender's output on the corrupted batch, averaged over its
	// sequences, per position.
	Mean
	// Zero: nothing.
	Zero
)

// String names the ablation as the CLI spells it.
func (a Ablation) String() string { return [...]string{"corrupted", "mean", "zero"}[a] }

// ParseAblation reads corrupted, mean or zero.
func ParseAblation(s string) (Ablation, error) {
	for a := Corrupted; a <= Zero; a++ {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("discover: unknown ablation %q (want corrupted, mean or zero)", s)
}

// Experiment holds a model, its graph, a clean and a corrupted batch and a
// metric, and each sender's output on both batches: what every method and
// every circuit evaluation starts from.
type Experiment struct {
	m          *transformer.Model
	g          *Graph
	c          transformer.Config
	metric     patching.Metric
	batch, pos int
	clean      []int32
	// out[s] and abl[s] are sender s's output [batch·pos, d_model] on the
	// clean batch and its ablated value (corrupted, mean or zero).
	out, abl [][]float32
	full     float64 // the metric of the clean run: every edge kept
	empty    float64 // the metric with every edge ablated

	// Reused by the attribution passes (attributionScratch): not safe for
	// concurrent use by more than one method at a time.
	attrib *attributionScratch
}

// New runs m on the clean and corrupted batches (equal shapes) and returns
// the experiment, with every edge ablated as a says.
func New(ctx context.Context, m *transformer.Model, clean, corrupted [][]int, metric patching.Metric, a Ablation) (*Experiment, error) {
	g, err := NewGraph(m.Cfg)
	if err != nil {
		return nil, err
	}
	flat, batch, pos, err := m.CheckTokens(clean)
	if err != nil {
		return nil, fmt.Errorf("discover: clean batch: %w", err)
	}
	_, cb, cp, err := m.CheckTokens(corrupted)
	if err != nil {
		return nil, fmt.Errorf("discover: corrupted batch: %w", err)
	}
	if cb != batch || cp != pos {
		return nil, fmt.Errorf("discover: the clean batch is %d×%d tokens and the corrupted %d×%d: they must match", batch, pos, cb, cp)
	}
	if a > Zero {
		return nil, fmt.Errorf("discover: unknown ablation %d", a)
	}
	if err := metric.Check(batch, pos, m.Cfg.DVocabOut); err != nil {
		return nil, err
	}
	e := &Experiment{m: m, g: g, c: m.Cfg, metric: metric, batch: batch, pos: pos, clean: flat}
	var corrLogits *tensor.Tensor
	if e.out, _, err = e.senderOutputs(ctx, clean); err != nil {
		return nil, err
	}
	if e.abl, corrLogits, err = e.senderOutputs(ctx, corrupted); err != nil {
		return nil, err
	}
	switch a {
	case Mean:
		rowLen := pos * m.Cfg.DModel
		for _, o := range e.abl {
			mean := make([]float64, rowLen)
			for b := range batch {
				for i, v := range o[b*rowLen : (b+1)*rowLen] {
					mean[i] += float64(v)
				}
			}
			for b := range batch {
				for i := range rowLen {
					o[b*rowLen+i] = float32(mean[i] / float64(batch))
				}
			}
		}
	case Zero:
		for _, o := range e.abl {
			clear(o)
		}
	}
	if e.full, err = e.Evaluate(ctx, g.Full()); err != nil {
		return nil, err
	}
	if a == Corrupted {
		e.empty = metric.Value(corrLogits)
	} else if e.empty, err = e.Evaluate(ctx, make([]bool, len(g.Edges))); err != nil {
		return nil, err
	}
	return e, nil
}

// Metric names the experiment's metric.
func (e *Experiment) Metric() string { return e.metric.String() }

// Graph returns the experiment's graph.
func (e *Experiment) Graph() *Graph { return e.g }

// Full returns the metric with every edge kept (the clean run).
func (e *Experiment) Full() float64 { return e.full }

// Empty returns the metric with every edge ablated (for Corrupted, the
// corrupted run).
func (e *Experiment) Empty() float64 { return e.empty }

// senderOutputs runs m on tokens and returns every sender's output,
// [batch·pos, d_model] each, in Graph.Senders order, and the logits.
func (e *Experiment) senderOutputs(ctx context.Context, tokens [][]int) ([][]float32, *tensor.Tensor, error) {
	rows, d := e.batch*e.pos, e.c.DModel
	out := make([][]float32, len(e.g.Senders))
	for i := range out {
		out[i] = make([]float32, rows*d)
	}
	hs := hooks.NewSet().AddMatch(func(hooks.Name) bool { return true }, func(act *tensor.Tensor, n hooks.Name) *tensor.Tensor {
		e.capture(out, act, n)
		return nil
	})
	logits, err := e.m.Run(ctx, tokens, hs)
	if err != nil {
		return nil, nil, fmt.Errorf("discover: %w", err)
	}
	return out, logits, nil
}

// capture copies act into out's sender slots if n is a sender's output.
func (e *Experiment) capture(out [][]float32, act *tensor.Tensor, n hooks.Name) {
	switch l := n.Layer(); {
	case n == hooks.Embed():
		copy(out[e.g.sender[Node{Kind: Embed}]], act.Data)
	case n == hooks.PosEmbed():
		if s, ok := e.g.sender[Node{Kind: PosEmbed}]; ok {
			copy(out[s], act.Data)
		}
	case l >= 0 && n == hooks.Result(l): // [batch, pos, head, d_model]
		H, d := e.c.NHeads, e.c.DModel
		for h := range H {
			dst := out[e.g.sender[Node{Kind: Head, Layer: l, Head: h}]]
			for r := range e.batch * e.pos {
				copy(dst[r*d:(r+1)*d], act.Data[(r*H+h)*d:][:d])
			}
		}
	case l >= 0 && n == hooks.MLPOut(l):
		copy(out[e.g.sender[Node{Kind: MLP, Layer: l}]], act.Data)
	}
}

// isCaptured reports whether n is a sender's output point.
func isCaptured(n hooks.Name) bool {
	l := n.Layer()
	return n == hooks.Embed() || n == hooks.PosEmbed() || (l >= 0 && (n == hooks.Result(l) || n == hooks.MLPOut(l)))
}

// Evaluate returns the metric of the circuit keep (one bool per edge of
// Graph().Edges): one forward pass of the clean batch in which each
// receiver reads, from every sender outside the circuit, the sender's
// ablated output in place of its output in this very run. Receivers are
// recomputed from their own inputs: a head's query, key or value (through
// its layer's normalization, W and b), an MLP's normalized input, the
// final normalization.
func (e *Experiment) Evaluate(ctx context.Context, keep []bool) (float64, error) {
	if len(keep) != len(e.g.Edges) {
		return 0, fmt.Errorf("discover: a circuit of %d edges for a graph of %d", len(keep), len(e.g.Edges))
	}
	logits, err := e.run(ctx, keep, nil)
	if err != nil {
		return 0, err
	}
	return e.metric.Value(logits), nil
}

// run is Evaluate's forward pass; extra hooks, if any, run after its own.
func (e *Experiment) run(ctx context.Context, keep []bool, extra *hooks.Set) (*tensor.Tensor, error) {
	c, g := e.c, e.g
	rows, d := e.batch*e.pos, c.DModel
	cur := make([][]float32, len(g.Senders))
	for i := range cur {
		cur[i] = make([]float32, rows*d)
	}
	// delta[r] = Σ over edges into receiver r outside the circuit of
	// (ablated − current) sender output, or nil when every edge is kept.
	delta := func(ri int) []float32 {
		var dl []float32
		for _, ei := range g.into[ri] {
			if keep[ei] {
				continue
			}
			if dl == nil {
				dl = make([]float32, rows*d)
			}
			s := g.sender[g.Edges[ei].From]
			tensor.Axpy(1, e.abl[s], dl)
			tensor.Axpy(-1, cur[s], dl)
		}
		return dl
	}
	var residPre, residMid, residLast []float32 // as the run computed them
	var mlpDelta []float32                      // no normalization: what was added to resid_mid
	norm := make([]float32, rows*d)
	scale := make([]float32, rows)
	hs := hooks.NewSet().AddMatch(func(hooks.Name) bool { return true }, func(act *tensor.Tensor, n hooks.Name) *tensor.Tensor {
		l := n.Layer()
		switch {
		case isCaptured(n):
			e.capture(cur, act, n)
			if l >= 0 && n == hooks.MLPOut(l) && mlpDelta != nil {
				tensor.Axpy(-1, mlpDelta, act.Data) // resid_post = resid_mid as computed + mlp_out
				mlpDelta = nil
			}
		case l >= 0 && n == hooks.ResidPre(l):
			residPre = act.Data
		case l >= 0 && n == hooks.ResidMid(l):
			residMid = act.Data
			if !c.HasNorm() {
				if dl := delta(g.receiver[Receiver{Node: Node{Kind: MLP, Layer: l}}]); dl != nil {
					tensor.Axpy(1, dl, act.Data)
					mlpDelta = dl
				}
			}
		case l >= 0 && (n == hooks.Q(l) || n == hooks.K(l) || n == hooks.V(l)):
			in := map[hooks.Name]Input{hooks.Q(l): Q, hooks.K(l): K, hooks.V(l): V}[n]
			heads := act.Shape[2]
			for h := range heads {
				dl := delta(g.receiver[Receiver{Node: Node{Kind: Head, Layer: l, Head: h}, In: in}])
				if dl == nil {
					continue
				}
				tensor.Axpy(1, residPre, dl) // the receiver's input
				e.normalize(norm, scale, dl, l, 1)
				e.project(act.Data, norm, l, h, in, heads)
			}
		case l >= 0 && n == hooks.LN2Normalized(l):
			src := residMid
			if c.ParallelAttnMLP {
				src = residPre
			}
			if dl := delta(g.receiver[Receiver{Node: Node{Kind: MLP, Layer: l}}]); dl != nil {
				tensor.Axpy(1, src, dl)
				e.normalize(act.Data, scale, dl, l, 2)
			}
		case n == hooks.LNFinalNormalized():
			if dl := delta(g.receiver[Receiver{Node: Node{Kind: Logits}}]); dl != nil {
				tensor.Axpy(1, residLast, dl)
				e.normalize(act.Data, scale, dl, -1, 0)
			}
		case l == c.NLayers-1 && n == hooks.ResidPost(l) && c.HasNorm():
			residLast = act.Data
		case l == c.NLayers-1 && n == hooks.ResidPost(l):
			if dl := delta(g.receiver[Receiver{Node: Node{Kind: Logits}}]); dl != nil {
				tensor.Axpy(1, dl, act.Data)
			}
		}
		return nil
	})
	if extra != nil {
		hs = hooks.Merge(hs, extra)
	}
	flat := make([]int32, len(e.clean))
	copy(flat, e.clean)
	ws := e.m.NewWorkspace(e.batch, e.pos)
	if err := ws.Forward(ctx, flat, hs); err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	return ws.Logits().Clone(), nil
}

// normalize writes into dst [rows, d_model] the normalization of x that
// the model applies before layer l's attention (which 1), its MLP (which
// 2), or the unembedding (l < 0), with the model's gain, bias and eps; a
// model without normalization copies x.
func (e *Experiment) normalize(dst, scale, x []float32, l, which int) {
	c, p := e.c, e.m.P
	rows, d := e.batch*e.pos, c.DModel
	var w, b []float32
	switch {
	case l < 0:
		w, b = p.LNFinalW, p.LNFinalB
	case which == 1:
		w, b = p.Blocks[l].LN1W, p.Blocks[l].LN1B
	default:
		w, b = p.Blocks[l].LN2W, p.Blocks[l].LN2B
	}
	switch c.NormalizationType {
	case transformer.NormLN, transformer.NormLNPre:
		nn.LayerNormForward(dst, scale, x, w, b, rows, d, float32(c.Eps))
	case transformer.NormRMS, transformer.NormRMSPre:
		nn.RMSNormForward(dst, scale, x, w, rows, d, float32(c.Eps))
	default:
		copy(dst, x)
	}
}

// project overwrites head h's slice of act, layer l's hook_q, hook_k or
// hook_v [batch, pos, heads, d_head], with x·W[:, h] + b[h] for x [rows,
// d_model].
func (e *Experiment) project(act, x []float32, l, h int, in Input, heads int) {
	c, bp := e.c, &e.m.P.Blocks[l]
	rows, d, dh := e.batch*e.pos, c.DModel, c.DHead
	w, b := bp.WQ, bp.BQ
	switch in {
	case K:
		w, b = bp.WK, bp.BK
	case V:
		w, b = bp.WV, bp.BV
	}
	ld := heads * dh
	tensor.Gemm(false, false, rows, dh, d, 1, x, d, w[h*dh:], ld, 0, act[h*dh:], ld)
	if b != nil {
		for r := range rows {
			tensor.Axpy(1, b[h*dh:(h+1)*dh], act[r*ld+h*dh:][:dh])
		}
	}
}
