package transformer

import (
	"context"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/workers"
)

// decoder runs a model on a set of sequences one new position at a time,
// keeping every sequence's keys and values per layer (the KV cache), so
// that a step costs one pass over the weights and attention over the
// cached positions instead of a forward pass over the whole sequence.
//
// Sequence b's cache holds caps[b] positions:
//
//	kt[l][b]  [n_key_value_heads, d_head, caps[b]]  keys (after rotary), transposed
//	v[l][b]   [caps[b], n_key_value_heads, d_head]   values
//
// so that a step's scores and mix are matrix products with the new query.
// Each sequence keeps its own length: positions are per sequence and no
// padding exists. A decoder belongs to one goroutine; close stops its
// workers.
type decoder struct {
	m     *Model
	caps  []int
	lens  []int // positions cached per sequence
	kt, v [][][]float32

	rotCos, rotSin []float32 // rotary: [max cap, rotary_dim/2]
	wu             []float32 // unembedding [d_model, d_vocab_out]: W_U, or W_Eᵀ for tied embeddings (made at the first step)

	lin  linear // the matrix products of a step, shared among workers
	bufs stepBufs
	pre  *Workspace // the last prefill's workspace, reused for prompts of its length
}

// stepBufs are a step's activations for up to rows sequences, [rows, …].
type stepBufs struct {
	x, h, qkIn, attnOut, mid, h2, mlpOut []float32 // [rows, d_model]
	scale                                []float32 // [rows]
	q, rq, z                             []float32 // [rows, n_heads·d_head]
	k, rk, v                             []float32 // [rows, n_key_value_heads·d_head]
	pre, preLin, post                    []float32 // [rows, d_mlp]
	logits                               []float32 // [rows, d_vocab_out]
	scores                               []float32 // [n_heads/n_key_value_heads, max cap]
	tokens                               []int32
}

func newDecoder(m *Model, caps []int, nWorkers int) *decoder {
	c := m.Cfg
	L, B := c.NLayers, len(caps)
	kvd := c.NKeyValueHeads * c.DHead
	d := &decoder{m: m, caps: caps, lens: make([]int, B)}
	d.kt, d.v = make([][][]float32, L), make([][][]float32, L)
	maxCap := 0
	for _, n := range caps {
		maxCap = max(maxCap, n)
	}
	for l := range L {
		d.kt[l], d.v[l] = make([][]float32, B), make([][]float32, B)
		for b, n := range caps {
			d.kt[l][b], d.v[l][b] = make([]float32, n*kvd), make([]float32, n*kvd)
		}
	}
	d.rotCos, d.rotSin = rotaryTables(c, maxCap)
	if nWorkers > 1 {
		d.lin.pool = workers.New(nWorkers)
	}
	d.lin.task = d.lin.run
	f := func(n int) []float32 { return make([]float32, B*n) }
	dm, hd, mlp := c.DModel, c.NHeads*c.DHead, 0
	if c.HasMLP() {
		mlp = c.DMLP
	}
	d.bufs = stepBufs{
		x: f(dm), h: f(dm), attnOut: f(dm), mid: f(dm), h2: f(dm), mlpOut: f(dm),
		scale: f(1), q: f(hd), z: f(hd), k: f(kvd), v: f(kvd),
		pre: f(mlp), post: f(mlp), logits: f(c.DVocabOut),
		scores: make([]float32, c.NHeads/c.NKeyValueHeads*maxCap),
		tokens: make([]int32, B),
	}
	if c.PositionalEmbeddingType == PosShortformer {
		d.bufs.qkIn = f(dm)
	}
	if c.PositionalEmbeddingType == PosRotary {
		d.bufs.rq, d.bufs.rk = f(hd), f(kvd)
	}
	if c.GatedMLP {
		d.bufs.preLin = f(mlp)
	}
	return d
}

// close stops the decoder's workers.
func (d *decoder) close() {
	if d.lin.pool != nil {
		d.lin.pool.Close()
	}
}

// prefill runs sequence b's prompt through the full forward pass, filling
// its cache from the hook_k (hook_rot_k for rotary models) and hook_v
// activations of every layer, and returns the logits at its last position,
// [d_vocab_out], valid until the next prefill.
func (d *decoder) prefill(ctx context.Context, b int, prompt []int32) ([]float32, error) {
	c, nm := d.m.Cfg, &d.m.nm
	n, kvH, dh := len(prompt), c.NKeyValueHeads, c.DHead
	if d.pre == nil || d.pre.pos != n {
		d.pre = d.m.NewWorkspace(1, n)
	}
	hs := hooks.NewSet()
	for l := range c.NLayers {
		kName := nm.k[l]
		if c.PositionalEmbeddingType == PosRotary {
			kName = nm.rotK[l]
		}
		kt, v, cp := d.kt[l][b], d.v[l][b], d.caps[b]
		hs.Add(kName, func(act *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			for t := range n { // act [1, n, kvH, dh] → kt [kvH, dh, cap]
				row := act.Data[t*kvH*dh:][:kvH*dh]
				for i, x := range row {
					kt[i*cp+t] = x
				}
			}
			return nil
		})
		hs.Add(nm.v[l], func(act *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
			copy(v, act.Data[:n*kvH*dh])
			return nil
		})
	}
	if err := d.pre.Forward(ctx, prompt, hs); err != nil {
		return nil, err
	}
	d.lens[b] = n
	V := c.DVocabOut
	return d.pre.Logits().Data[(n-1)*V : n*V], nil
}

// step feeds tokens[r] to sequence live[r] at its next position, appends
// the position's keys and values to its cache, and returns the logits,
// [len(live), d_vocab_out], valid until the next step. Every sequence must
// have room for one more position.
func (d *decoder) step(live []int, tokens []int32) []float32 {
	c, p, s := d.m.Cfg, d.m.P, &d.bufs
	rows, dm := len(live), c.DModel
	hd, kvd := c.NHeads*c.DHead, c.NKeyValueHeads*c.DHead
	x := s.x[:rows*dm]
	nn.EmbedForward(x, tokens, p.WE, dm)
	if c.PositionalEmbeddingType == PosStandard {
		for r, b := range live {
			pos := d.lens[b]
			tensor.Axpy(1, p.WPos[pos*dm:(pos+1)*dm], x[r*dm:(r+1)*dm])
		}
	}
	for l := range c.NLayers {
		bp := &p.Blocks[l]
		h := d.norm(s.h, x, bp.LN1W, bp.LN1B, rows)
		qkIn := h
		if c.PositionalEmbeddingType == PosShortformer {
			qkIn = s.qkIn[:rows*dm]
			for r, b := range live {
				pos := d.lens[b]
				tensor.Add(qkIn[r*dm:(r+1)*dm], h[r*dm:(r+1)*dm], p.WPos[pos*dm:(pos+1)*dm])
			}
		}
		q, k, v := s.q[:rows*hd], s.k[:rows*kvd], s.v[:rows*kvd]
		d.lin.forward(q, qkIn, bp.WQ, bp.BQ, rows, dm, hd)
		d.lin.forward(k, qkIn, bp.WK, bp.BK, rows, dm, kvd)
		d.lin.forward(v, h, bp.WV, bp.BV, rows, dm, kvd)
		if c.PositionalEmbeddingType == PosRotary {
			for r, b := range live {
				d.rotate(s.rq[r*hd:(r+1)*hd], q[r*hd:(r+1)*hd], c.NHeads, d.lens[b])
				d.rotate(s.rk[r*kvd:(r+1)*kvd], k[r*kvd:(r+1)*kvd], c.NKeyValueHeads, d.lens[b])
			}
			q, k = s.rq[:rows*hd], s.rk[:rows*kvd]
		}
		z := s.z[:rows*hd]
		for r, b := range live {
			d.append(l, b, k[r*kvd:(r+1)*kvd], v[r*kvd:(r+1)*kvd])
			d.attend(z[r*hd:(r+1)*hd], q[r*hd:(r+1)*hd], l, b)
		}
		attnOut := s.attnOut[:rows*dm]
		d.lin.forward(attnOut, z, bp.WO, bp.BO, rows, hd, dm)
		if !c.HasMLP() {
			tensor.Add(x, x, attnOut)
			continue
		}
		// resid_mid = resid_pre + attn_out; the MLP reads resid_mid, or
		// resid_pre when attention and MLP run in parallel.
		mid := s.mid[:rows*dm]
		tensor.Add(mid, x, attnOut)
		mlpIn := mid
		if c.ParallelAttnMLP {
			mlpIn = x
		}
		h2 := d.norm(s.h2, mlpIn, bp.LN2W, bp.LN2B, rows)
		post := d.mlp(h2, bp, rows)
		mlpOut := s.mlpOut[:rows*dm]
		d.lin.forward(mlpOut, post, bp.WOut, bp.BOut, rows, c.DMLP, dm)
		tensor.Add(x, mid, mlpOut)
	}
	x = d.norm(s.h, x, p.LNFinalW, p.LNFinalB, rows)
	logits := s.logits[:rows*c.DVocabOut]
	d.lin.forward(logits, x, d.unembed(), p.BU, rows, dm, c.DVocabOut)
	for _, b := range live {
		d.lens[b]++
	}
	return logits
}

// norm applies the config's normalization to x [rows, d_model] into
// dst[:rows·d_model] and returns it, or returns x for models without one.
func (d *decoder) norm(dst, x, g, b []float32, rows int) []float32 {
	c := d.m.Cfg
	dst, eps := dst[:rows*c.DModel], float32(c.Eps)
	switch c.NormalizationType {
	case NormLN, NormLNPre:
		nn.LayerNormForward(dst, d.bufs.scale, x, g, b, rows, c.DModel, eps)
	case NormRMS, NormRMSPre:
		nn.RMSNormForward(dst, d.bufs.scale, x, g, rows, c.DModel, eps)
	default:
		return x
	}
	return dst
}

// mlp returns the MLP's hidden layer (hook_post) for h [rows, d_model], as
// the forward pass computes it.
func (d *decoder) mlp(h []float32, bp *BlockParams, rows int) []float32 {
	c, s := d.m.Cfg, &d.bufs
	n := rows * c.DMLP
	pre, post := s.pre[:n], s.post[:n]
	if !c.GatedMLP {
		d.lin.forward(pre, h, bp.WIn, bp.BIn, rows, c.DModel, c.DMLP)
		activate(c.ActFn, post, pre)
		return post
	}
	// post = act(h·W_gate)·(h·W_in) + b_in
	preLin := s.preLin[:n]
	d.lin.forward(pre, h, bp.WGate, nil, rows, c.DModel, c.DMLP)
	d.lin.forward(preLin, h, bp.WIn, nil, rows, c.DModel, c.DMLP)
	activate(c.ActFn, post, pre)
	for i, v := range preLin {
		post[i] *= v
	}
	addBias(post, bp.BIn)
	return post
}

// rotate writes src [heads·d_head], one position's queries or keys,
// rotated for position pos into dst, with the forward pass's own rotation
// (Workspace.rotate on a one-row view whose tables start at pos).
func (d *decoder) rotate(dst, src []float32, heads, pos int) {
	half := d.m.Cfg.RotaryDim / 2
	one := Workspace{m: d.m, rows: 1, pos: 1, rotCos: d.rotCos[pos*half:], rotSin: d.rotSin[pos*half:]}
	one.rotate(dst, src, heads)
}

// append stores one position's keys and values [n_key_value_heads·d_head]
// at sequence b's next position in layer l's cache.
func (d *decoder) append(l, b int, k, v []float32) {
	t, cp, n := d.lens[b], d.caps[b], len(k)
	kt := d.kt[l][b]
	for i, x := range k {
		kt[i*cp+t] = x
	}
	copy(d.v[l][b][t*n:(t+1)*n], v)
}

// attend writes sequence b's attention output z [n_heads·d_head] for its
// newest position, whose queries are q [n_heads·d_head] and whose keys and
// values append has cached: per key/value head, the group of query heads
// that share it (consecutive heads) is one product with the cache,
//
//	scores [group, n] = Q_g [group, d_head] · K_gᵀ [d_head, n] / √d_head
//	z_g    [group, d_head] = softmax(scores) · V_g [n, d_head]
//
// over the n = lens[b]+1 cached positions (all of them precede or are the
// query: causal).
func (d *decoder) attend(z, q []float32, l, b int) {
	c := d.m.Cfg
	dh, kvH, cp := c.DHead, c.NKeyValueHeads, d.caps[b]
	g, n := c.NHeads/kvH, d.lens[b]+1
	// The new query, at position n−1, reads keys [lo, n): all of them, or
	// under local attention the last window_size (i − window < j ≤ i).
	lo := 0
	if c.localAttn(l) {
		lo = max(0, n-c.WindowSize)
	}
	m := n - lo
	scale := float32(1 / c.attnDivisor(l))
	kt, v, sc := d.kt[l][b], d.v[l][b], d.bufs.scores[:g*m]
	for j := range kvH {
		tensor.Gemm(false, false, g, m, dh, scale, q[j*g*dh:], dh, kt[j*dh*cp+lo:], cp, 0, sc, m)
		for r := range g {
			tensor.SoftmaxRow(sc[r*m:(r+1)*m], sc[r*m:(r+1)*m])
		}
		tensor.Gemm(false, false, g, dh, m, 1, sc, m, v[lo*kvH*dh+j*dh:], kvH*dh, 0, z[j*g*dh:], dh)
	}
}

// unembed returns the unembedding matrix [d_model, d_vocab_out]: W_U, or
// for tied embeddings W_Eᵀ, transposed once so that every step reads it
// row by row (a transposed product streams W_E several times slower).
func (d *decoder) unembed() []float32 {
	c, p := d.m.Cfg, d.m.P
	if !c.TiedEmbeddings {
		return p.WU
	}
	if d.wu == nil {
		V, dm := c.DVocab, c.DModel
		d.wu = make([]float32, dm*V)
		const blk = 64 // transpose in tiles that stay in cache
		for i0 := 0; i0 < V; i0 += blk {
			for j0 := 0; j0 < dm; j0 += blk {
				for i := i0; i < min(i0+blk, V); i++ {
					for j := j0; j < min(j0+blk, dm); j++ {
						d.wu[j*V+i] = p.WE[i*dm+j]
					}
				}
			}
		}
	}
	return d.wu
}
