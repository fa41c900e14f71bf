package transformer

import (
	"math"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
)

// Backward through the Llama-family pieces of the forward pass (llama.go):
// rotary embeddings, grouped-query attention, gated MLPs and SiLU. Parallel
// attention and MLP needs no piece of its own: blockBackward sends the
// MLP's input gradient to resid_pre instead of resid_mid.

// activationBackward writes into dx the gradient through y = act(x):
// dx = dy ⊙ act'(x) (overwriting it).
func activationBackward(act string, dx, dy, x []float32) {
	clear(dx)
	switch act {
	case ActGELU:
		nn.GELUBackward(dx, dy, x)
	case ActGELUNew:
		nn.GELUTanhBackward(dx, dy, x)
	case ActReLU:
		nn.ReLUBackward(dx, dy, x)
	case ActSiLU:
		// d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))), in float64 as the forward.
		for i, v := range x[:len(dx)] {
			xv := float64(v)
			s := 1 / (1 + math.Exp(-xv))
			dx[i] = float32(float64(dy[i]) * s * (1 + xv*(1-s)))
		}
	}
}

// gatedMLPBackward takes dpost, the gradient at a gated MLP's hook_post,
// to its input h [rows, d_model] (dh: overwritten if store, else
// accumulated), accumulating the gradients of W_gate, W_in and b_in and
// calling the hook_pre_linear and hook_pre backward hooks. post =
// act(pre)⊙preLinear + b_in, so
//
//	d b_in += Σ_rows dpost,  d preLinear = dpost ⊙ act(pre),
//	d pre = act'(pre) ⊙ dpost ⊙ preLinear.
//
// rr is as for linearBackward.
func (w *Workspace) gatedMLPBackward(g *Params, hs *hooks.Set, l int, rr *rowRuns, store bool, dh, h []float32) error {
	c, nm := w.m.Cfg, &w.m.nm
	bp, gp := &w.m.P.Blocks[l], &g.Blocks[l]
	ba, dba := &w.act.blocks[l], &w.grad.blocks[l]
	dpost, dpre, dlin := dba.mlpPost.Data, dba.mlpPre.Data, dba.mlpPreLinear.Data
	colSum(gp.BIn, dpost, w.rows, c.DMLP)
	// d pre first, with d preLinear's buffer as scratch for dpost ⊙ preLinear.
	for i, v := range ba.mlpPreLinear.Data {
		dlin[i] = dpost[i] * v
	}
	w.activationBackward(c.ActFn, dpre, dlin, ba.mlpPre.Data)
	activate(c.ActFn, dlin, ba.mlpPre.Data)
	for i, v := range dpost {
		dlin[i] *= v
	}
	if err := hs.RunBackward(nm.mlpPreLinear[l], dba.mlpPreLinear); err != nil {
		return err
	}
	if err := hs.RunBackward(nm.mlpPre[l], dba.mlpPre); err != nil {
		return err
	}
	w.linearBackward(rr, store, dh, gp.WGate, nil, dpre, h, bp.WGate, c.DModel, c.DMLP)
	w.linearBackward(rr, false, dh, gp.WIn, nil, dlin, h, bp.WIn, c.DModel, c.DMLP)
	return nil
}

// attnInputsBackward takes the gradients at the tensors attention read
// (rotated, repeated queries, keys and values) back to hook_q, hook_k and
// hook_v, calling the hook_rot_q and hook_rot_k backward hooks on the way:
// a repeated key/value head's gradient is the sum over its query group
// (sumKV), and the gradient of a rotation is the inverse rotation.
func (w *Workspace) attnInputsBackward(hs *hooks.Set, l int) error {
	c, nm := w.m.Cfg, &w.m.nm
	dba := &w.grad.blocks[l]
	H, Hkv, dh := c.NHeads, c.NKeyValueHeads, c.DHead
	rotary := c.PositionalEmbeddingType == PosRotary
	if c.grouped() {
		dk := dba.k
		if rotary {
			dk = dba.rotK
		}
		sumKV(dk.Data, dba.kAttn.Data, w.rows, H, Hkv, dh)
		sumKV(dba.v.Data, dba.vAttn.Data, w.rows, H, Hkv, dh)
	}
	if !rotary {
		return nil
	}
	if err := hs.RunBackward(nm.rotQ[l], dba.rotQ); err != nil {
		return err
	}
	if err := hs.RunBackward(nm.rotK[l], dba.rotK); err != nil {
		return err
	}
	w.rotateBy(dba.q.Data, dba.rotQ.Data, H, -1)
	w.rotateBy(dba.k.Data, dba.rotK.Data, Hkv, -1)
	return nil
}

// sumKV is repeatKV's transpose: dst [rows, kvHeads, d_head] gets, for each
// key/value head, the sum of src [rows, heads, d_head] over the query heads
// of its group (overwriting dst).
func sumKV(dst, src []float32, rows, heads, kvHeads, dh int) {
	g := heads / kvHeads
	clear(dst[:rows*kvHeads*dh])
	for r := range rows {
		for h := range heads {
			d, s := dst[(r*kvHeads+h/g)*dh:][:dh], src[(r*heads+h)*dh:][:dh]
			for i, v := range s {
				d[i] += v
			}
		}
	}
}
