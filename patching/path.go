package patching

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/workers"
)

// Head names one attention head.
type Head struct{ Layer, Head int }

// String returns "L{layer}H{head}".
func (h Head) String() string { return fmt.Sprintf("L%dH%d", h.Layer, h.Head) }

// PathPatch measures the path from sender's output to one input (q, k or v)
// of receiver, a head in a later layer, in the denoising direction. It
// returns the metric of this run:
//
//  1. Every activation of the corrupted run up to the receiver's layer is
//     frozen, so the residual stream entering that layer is the corrupted
//     one, r. The sender's clean-minus-corrupted output,
//     Δ = (z_clean − z_corr)[sender]·W_O[sender] at every position, is added
//     to it: r' = r + Δ. Δ reaches r' only directly, through the residual
//     stream; heads and MLPs between the two layers keep their corrupted
//     values and carry none of it.
//  2. The receiver's input is recomputed from r' as the model computes it
//     (ln1 recomputed on r', then W_Q/W_K/W_V and the bias, and for
//     shortformer models W_pos on queries and keys), at every position.
//  3. The corrupted run is resumed at the receiver's layer from r, with only
//     the receiver head's chosen input replaced by the value of step 2; the
//     receiver's other inputs, the other heads of its layer and everything
//     else are corrupted. Downstream of the receiver the model runs
//     normally, so the receiver's changed output reaches the logits by every
//     path.
//
// This is path patching as in Wang et al. 2022 (IOI, §3.1 and appendix B)
// and Goldowsky-Dill et al. 2023, with one sender head and one receiver
// input. With clean = corrupted, or a sender whose clean and corrupted
// outputs agree, it returns the corrupted metric exactly.
func (e *Experiment) PathPatch(ctx context.Context, sender, receiver Head, input Kind) (float64, error) {
	if err := e.checkPath(sender, receiver, input); err != nil {
		return 0, err
	}
	r := receiver.Layer
	resid := e.act(e.corruptActs, hooks.ResidPre(r)).Clone()
	e.addHeadDelta(resid, sender, Positions{})

	// Step 2: the receiver's input computed from r'. The run continues to
	// the logits, which are not used.
	name := input.Hook(r)
	var recomputed *tensor.Tensor
	keep := hooks.NewSet().Add(name, func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		recomputed = a.Clone()
		return nil
	})
	if _, err := e.m.RunFromLayer(ctx, resid, r, keep); err != nil {
		return 0, err
	}

	// Step 3. A receiver's k and v are its group's (grouped-query attention).
	s := Site{Kind: input, Layer: r, Head: receiver.Head}
	if c := e.m.Cfg; input == K || input == V {
		s.Head /= c.NHeads / c.NKeyValueHeads
	}
	hs := hooks.NewSet().Add(name, s.replace(recomputed))
	return e.run(ctx, e.act(e.corruptActs, hooks.ResidPre(r)), r, hs)
}

// PathSweep path-patches every head of the layers before receiver's into
// receiver's input (q, k or v), as PathPatch, on opt.Workers goroutines. The
// grid has one row per sender head ("L0H0", …); opt.ByPos is not supported.
func (e *Experiment) PathSweep(ctx context.Context, receiver Head, input Kind, opt Options) (*Grid, error) {
	if opt.ByPos {
		return nil, fmt.Errorf("patching: path patching is not swept by position")
	}
	if err := e.checkPath(Head{0, 0}, receiver, input); err != nil {
		return nil, err
	}
	g := &Grid{What: input, Metric: e.metric.String(), Clean: e.clean, Corrupted: e.corrupted}
	var senders []Head
	var labels []string
	for l := 0; l < receiver.Layer; l++ {
		for h := 0; h < e.m.Cfg.NHeads; h++ {
			senders = append(senders, Head{l, h})
			labels = append(labels, Head{l, h}.String())
			g.Sites = append(g.Sites, Site{Kind: HeadOut, Layer: l, Head: h})
		}
	}
	g.Axes = [][]string{labels}
	g.Values = make([]float64, len(senders))
	err := workers.ForErr(ctx, opt.workers(), len(senders), func(ctx context.Context, i int) error {
		v, err := e.PathPatch(ctx, senders[i], receiver, input)
		g.Values[i] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

func (e *Experiment) checkPath(sender, receiver Head, input Kind) error {
	c := e.m.Cfg
	if input != Q && input != K && input != V {
		return fmt.Errorf("patching: path patching reaches a receiver's q, k or v, not %q", input)
	}
	for _, h := range []Head{sender, receiver} {
		if h.Layer < 0 || h.Layer >= c.NLayers || h.Head < 0 || h.Head >= c.NHeads {
			return fmt.Errorf("patching: head %v outside the model's %d layers × %d heads", h, c.NLayers, c.NHeads)
		}
	}
	if sender.Layer >= receiver.Layer {
		return fmt.Errorf("patching: sender %v must be in a layer before receiver %v", sender, receiver)
	}
	return nil
}

// addHeadDelta adds (z_clean − z_corr)[h]·W_O[h] to dst, [batch, pos,
// d_model], at the positions pos selects. Elsewhere it adds exact zeros.
func (e *Experiment) addHeadDelta(dst *tensor.Tensor, h Head, pos Positions) {
	c := e.m.Cfg
	d, H, dh := c.DModel, c.NHeads, c.DHead
	rows := e.batch * e.pos
	zc, zx := e.act(e.cleanActs, hooks.Z(h.Layer)), e.act(e.corruptActs, hooks.Z(h.Layer))
	dz := make([]float32, rows*dh) // [batch·pos, d_head]
	for r := 0; r < rows; r++ {
		if !pos.covers(r % e.pos) {
			continue
		}
		off := (r*H + h.Head) * dh
		for j := 0; j < dh; j++ {
			dz[r*dh+j] = zc.Data[off+j] - zx.Data[off+j]
		}
	}
	wo := e.m.P.Blocks[h.Layer].WO[h.Head*dh*d:][:dh*d]
	// dst += dz·W_O[h]   [batch·pos, d_head]·[d_head, d_model]
	tensor.Gemm(false, false, rows, d, dh, 1, dz, dh, wo, d, 1, dst.Data, d)
}
