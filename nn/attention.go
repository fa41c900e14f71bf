package nn

import (
	"fmt"
	"math"
	"strings"

	"github.com/mechinterp/workbench/tensor"
)

// Causal multi-head attention kernels: the part of an attention layer between
// the q/k/v projections and W_O (Vaswani et al. 2017, "Attention Is All You
// Need", §3.2; TransformerLens AbstractAttention; llm.c attention_forward).
//
// Shapes (T = pos, H = heads, dh = dHead):
//
//	q, k, v, z         [batch, pos, head, d_head]   row stride H·dh between positions
//	scores, pattern    [batch, head, dest, src]     T×T per (batch, head)
//
// q, k, v are exactly x·W_Q, x·W_K, x·W_V with W laid out [d_model, H·dh], so
// each (batch, head) slice is a T×dh matrix with leading dimension H·dh and
// the products run on tensor.Gemm without copies. At the toy model's size
// (pos 40, d_head 16) Gemm over the full T×T square beats scalar loops over
// the causal triangle several times over, although half its work is masked;
// the softmax and its backward are scalar loops over the triangle only.
// For d_head = 16 on AVX-512 a dedicated path (attention_fast.go) computes
// the causal triangle only, one ZMM register per row; these Gemm-based
// kernels remain for every other shape and are its reference.
//
// Semantics follow TransformerLens exactly: scores are masked to −Inf above
// the diagonal after scaling; the softmax ignores what is there; z is
// pattern·v over every source position (a pattern from AttnSoftmaxForward is
// exactly zero above the diagonal, but a hook's edit there would be seen, and
// gets a gradient, as in PyTorch); the gradient reaching q and k through a
// masked score is zero whatever dscores holds there.
//
// The step-wise functions (AttnScoresForward, AttnSoftmaxForward,
// AttnMixForward and their Backwards) expose every intermediate for hooks; the
// fused AttentionForward/AttentionBackward do the same work one (batch, head)
// tile at a time while it is in L1.

// attnBlock is the row block of AttnScoresBackward's mask-respecting products:
// Gemm runs on the rectangle left of each block's diagonal square and a scalar
// loop on the square's lower triangle. Four rows measured fastest at pos 40.
const attnBlock = 4

// AttnScoresForward writes the scaled, causally masked attention scores
// scores[b,h,i,j] = q[b,i,h,:]·k[b,j,h,:] / √dHead for j ≤ i, and −Inf for
// j > i, as TransformerLens hooks them (hook_attn_scores, after scaling and
// masking). q and k are [batch, pos, heads, dHead]; scores is
// [batch, heads, pos, pos]. Nothing else is saved: AttnScoresBackward needs
// only q and k. scores must not alias q or k. It panics with a
// tensor.ShapeError if a dimension is negative, dHead is 0, or a slice is too
// short for the dimensions.
func AttnScoresForward(scores, q, k []float32, batch, pos, heads, dHead int) {
	attnCheckQKV("AttnScoresForward", "q k", batch, pos, heads, dHead, q, k)
	attnCheck("AttnScoresForward", "scores", scores, batch*heads*pos*pos)
	if attnFast(pos, dHead) {
		attnScoresForward16(scores, q, k, batch, pos, heads)
		return
	}
	stride, scale := heads*dHead, attnScale(dHead)
	for b := range batch {
		for h := range heads {
			off, so := (b*pos*heads+h)*dHead, (b*heads+h)*pos*pos
			s := scores[so : so+pos*pos]
			tensor.Gemm(false, true, pos, pos, dHead, scale, q[off:], stride, k[off:], stride, 0, s, pos)
			attnMask(s, pos)
		}
	}
}

// AttnSoftmaxForward writes the attention pattern (hook_pattern): for each
// row i of each [pos, pos] block of scores, a softmax over src j ≤ i, with
// exactly 0 for j > i. scores and pattern are [batch, heads, pos, pos]; the
// pattern is what AttnSoftmaxBackward and AttnMixBackward save. Entries of
// scores above the diagonal are ignored; −Inf entries below it get
// probability exactly 0, and a row that is −Inf throughout becomes all zeros.
// pattern may be scores (in place). It panics with a tensor.ShapeError if a
// dimension is negative or a slice is too short for the dimensions.
func AttnSoftmaxForward(pattern, scores []float32, batch, heads, pos int) {
	n := attnPatternLen("AttnSoftmaxForward", batch, heads, pos)
	attnCheck("AttnSoftmaxForward", "scores", scores, n)
	attnCheck("AttnSoftmaxForward", "pattern", pattern, n)
	for o := 0; o < n; o += pos * pos {
		attnSoftmax(pattern[o:o+pos*pos], scores[o:o+pos*pos], pos)
	}
}

// AttnMixForward writes z[b,i,h,:] = Σ_j pattern[b,h,i,j]·v[b,j,h,:]
// (hook_z), the einsum TransformerLens computes: the sum runs over every
// source position, so it is causal because a pattern from AttnSoftmaxForward
// is zero above the diagonal. pattern is [batch, heads, pos, pos]; v and z are
// [batch, pos, heads, dHead]. AttnMixBackward needs pattern and v. z must not
// alias v or pattern. It panics with a tensor.ShapeError if a dimension is
// negative, dHead is 0, or a slice is too short for the dimensions.
func AttnMixForward(z, pattern, v []float32, batch, pos, heads, dHead int) {
	attnCheckQKV("AttnMixForward", "v z", batch, pos, heads, dHead, v, z)
	attnCheck("AttnMixForward", "pattern", pattern, batch*heads*pos*pos)
	if attnFast(pos, dHead) {
		attnMixForward16(z, pattern, v, batch, pos, heads)
		return
	}
	stride := heads * dHead
	for b := range batch {
		for h := range heads {
			off, po := (b*pos*heads+h)*dHead, (b*heads+h)*pos*pos
			tensor.Gemm(false, false, pos, dHead, pos, 1, pattern[po:], pos, v[off:], stride, 0, z[off:], stride)
		}
	}
}

// AttnMixBackward is the backward of AttnMixForward. Given dz
// [batch, pos, heads, dHead] and the saved pattern [batch, heads, pos, pos]
// and v, it accumulates dpattern[b,h,i,j] += dz[b,i,h,:]·v[b,j,h,:] for every
// (i, j), as PyTorch would for the einsum (AttnSoftmaxBackward ignores the
// entries above the diagonal), and dv[b,j,h,:] += Σ_i pattern[b,h,i,j]·dz[b,i,h,:].
// A nil dpattern or dv is skipped. Gradients must not alias the inputs. It
// panics with a tensor.ShapeError if a dimension is negative, dHead is 0, or a
// slice is too short for the dimensions.
func AttnMixBackward(dpattern, dv, dz, pattern, v []float32, batch, pos, heads, dHead int) {
	attnCheckQKV("AttnMixBackward", "dz v", batch, pos, heads, dHead, dz, v)
	n := batch * heads * pos * pos
	attnCheck("AttnMixBackward", "pattern", pattern, n)
	attnCheckOpt("AttnMixBackward", "dpattern", dpattern, n)
	attnCheckOpt("AttnMixBackward", "dv", dv, batch*pos*heads*dHead)
	stride := heads * dHead
	for b := range batch {
		for h := range heads {
			off, po := (b*pos*heads+h)*dHead, (b*heads+h)*pos*pos
			if dpattern != nil {
				tensor.Gemm(false, true, pos, pos, dHead, 1, dz[off:], stride, v[off:], stride, 1, dpattern[po:], pos)
			}
			if dv != nil {
				tensor.Gemm(true, false, pos, dHead, pos, 1, pattern[po:], pos, dz[off:], stride, 1, dv[off:], stride)
			}
		}
	}
}

// AttnSoftmaxBackward is the backward of AttnSoftmaxForward. Given dpattern
// and the saved pattern, both [batch, heads, pos, pos], it accumulates, row by
// row over j ≤ i, dscores[i,j] += pattern[i,j]·(dpattern[i,j] − Σ_{j'≤i}
// pattern[i,j']·dpattern[i,j']). Entries above the diagonal of dscores are
// left unchanged (their gradient is zero) and those of dpattern are not read.
// A nil dscores is skipped. dscores must not alias dpattern or pattern. It
// panics with a tensor.ShapeError if a dimension is negative or a slice is too
// short for the dimensions.
func AttnSoftmaxBackward(dscores, dpattern, pattern []float32, batch, heads, pos int) {
	n := attnPatternLen("AttnSoftmaxBackward", batch, heads, pos)
	attnCheck("AttnSoftmaxBackward", "dpattern", dpattern, n)
	attnCheck("AttnSoftmaxBackward", "pattern", pattern, n)
	attnCheckOpt("AttnSoftmaxBackward", "dscores", dscores, n)
	if dscores == nil {
		return
	}
	for o := 0; o < n; o += pos * pos {
		attnSoftmaxBackward(dscores[o:o+pos*pos], dpattern[o:o+pos*pos], pattern[o:o+pos*pos], pos, true)
	}
}

// AttnScoresBackward is the backward of AttnScoresForward. Given dscores
// [batch, heads, pos, pos] and the saved q and k [batch, pos, heads, dHead],
// it accumulates dq[b,i,h,:] += Σ_{j≤i} dscores[b,h,i,j]·k[b,j,h,:] / √dHead
// and dk[b,j,h,:] += Σ_{i≥j} dscores[b,h,i,j]·q[b,i,h,:] / √dHead. Masked
// entries (j > i) of dscores are never read, so they contribute nothing even
// if they hold NaN. A nil dq or dk is skipped. Gradients must not alias the
// inputs. It panics with a tensor.ShapeError if a dimension is negative,
// dHead is 0, or a slice is too short for the dimensions.
func AttnScoresBackward(dq, dk, dscores, q, k []float32, batch, pos, heads, dHead int) {
	attnCheckQKV("AttnScoresBackward", "q k", batch, pos, heads, dHead, q, k)
	attnCheck("AttnScoresBackward", "dscores", dscores, batch*heads*pos*pos)
	attnCheckOpt("AttnScoresBackward", "dq", dq, batch*pos*heads*dHead)
	attnCheckOpt("AttnScoresBackward", "dk", dk, batch*pos*heads*dHead)
	stride, scale := heads*dHead, attnScale(dHead)
	for b := range batch {
		for h := range heads {
			off, so := (b*pos*heads+h)*dHead, (b*heads+h)*pos*pos
			ds := dscores[so : so+pos*pos]
			if dq != nil {
				attnLowerMix(dq[off:], ds, k[off:], pos, stride, dHead, scale)
			}
			if dk != nil {
				attnLowerMixT(dk[off:], ds, q[off:], pos, stride, dHead, scale)
			}
		}
	}
}

// AttentionForward is the fused causal attention: for each (batch, head) it
// computes scores, mask, softmax and pattern·V while the pos×pos tile is in
// L1, giving bit-for-bit the results of AttnScoresForward, AttnSoftmaxForward
// and AttnMixForward in sequence. q, k, v and z are
// [batch, pos, heads, dHead]; scores and pattern are [batch, heads, pos, pos].
// scores is written (masked entries −Inf) only if non-nil, for hooks; pattern
// is always written, since AttentionBackward needs it (with q, k and v).
// Outputs must not alias each other or the inputs. It panics with a
// tensor.ShapeError if a dimension is negative, dHead is 0, or a slice is too
// short for the dimensions.
func AttentionForward(z, scores, pattern, q, k, v []float32, batch, pos, heads, dHead int) {
	attnCheckQKV("AttentionForward", "q k v z", batch, pos, heads, dHead, q, k, v, z)
	n := batch * heads * pos * pos
	attnCheck("AttentionForward", "pattern", pattern, n)
	attnCheckOpt("AttentionForward", "scores", scores, n)
	if attnFast(pos, dHead) {
		attentionForward16(z, scores, pattern, q, k, v, batch, pos, heads, nil, nil)
		return
	}
	attentionForwardGo(z, scores, pattern, q, k, v, batch, pos, heads, dHead, attnSoftmax)
}

// AttentionForwardPairs is AttentionForward for the (batch, head) pairs
// b·heads + h in [from, to) only, with the same arguments: the other
// pairs' rows of z, scores and pattern are left as they were. Calls on
// disjoint ranges may run concurrently on the same tensors; together they
// give AttentionForward's results bit for bit. It panics as
// AttentionForward does, or with a tensor.ShapeError on a bad range.
func AttentionForwardPairs(z, scores, pattern, q, k, v []float32, batch, pos, heads, dHead, from, to int) {
	attnCheckQKV("AttentionForwardPairs", "q k v z", batch, pos, heads, dHead, q, k, v, z)
	n := batch * heads * pos * pos
	attnCheck("AttentionForwardPairs", "pattern", pattern, n)
	attnCheckOpt("AttentionForwardPairs", "scores", scores, n)
	if from < 0 || from > to || to > batch*heads {
		panic(tensor.ShapeError{Op: "AttentionForwardPairs", Msg: fmt.Sprintf("pairs [%d, %d) outside [0, %d)", from, to, batch*heads)})
	}
	if attnFast(pos, dHead) {
		attentionForward16Pairs(z, scores, pattern, q, k, v, pos, heads, from, to, nil, nil)
		return
	}
	attentionForwardGoPairs(z, scores, pattern, q, k, v, pos, heads, dHead, from, to, attnSoftmax)
}

// attentionForwardGo is AttentionForward on Gemm, for any shape (arguments
// checked), with the given row softmax (attnSoftmax, or attnSoftmaxGo to
// measure the portable one): the reference for attentionForward16.
func attentionForwardGo(z, scores, pattern, q, k, v []float32, batch, pos, heads, dHead int, softmax func(p, s []float32, T int)) {
	attentionForwardGoPairs(z, scores, pattern, q, k, v, pos, heads, dHead, 0, batch*heads, softmax)
}

// attentionForwardGoPairs is attentionForwardGo for the (batch, head)
// pairs b·heads + h in [from, to) only.
func attentionForwardGoPairs(z, scores, pattern, q, k, v []float32, pos, heads, dHead, from, to int, softmax func(p, s []float32, T int)) {
	stride, scale := heads*dHead, attnScale(dHead)
	for bh := from; bh < to; bh++ {
		b, h := bh/heads, bh%heads
		off, po := (b*pos*heads+h)*dHead, bh*pos*pos
		p := pattern[po : po+pos*pos]
		s := p // without scores, the softmax runs in place
		if scores != nil {
			s = scores[po : po+pos*pos]
		}
		tensor.Gemm(false, true, pos, pos, dHead, scale, q[off:], stride, k[off:], stride, 0, s, pos)
		if scores != nil {
			attnMask(s, pos)
		}
		softmax(p, s, pos)
		tensor.Gemm(false, false, pos, dHead, pos, 1, p, pos, v[off:], stride, 0, z[off:], stride)
	}
}

// AttentionBackward is the fused backward of AttentionForward. Given dz
// [batch, pos, heads, dHead], the saved pattern [batch, heads, pos, pos] and
// q, k, v [batch, pos, heads, dHead], it accumulates into dq, dk and dv what
// AttnMixBackward, AttnSoftmaxBackward and AttnScoresBackward in sequence
// would from zeroed intermediate gradients (equal up to float32 rounding), one
// (batch, head) at a time with dpattern and then dscores in scratch (at least
// pos·pos floats, overwritten; unused, and may be nil, when dq and dk are
// both nil). A nil dq, dk or dv is skipped. pattern must be zero above the
// diagonal, as AttentionForward and AttnSoftmaxForward leave it. Gradients
// must not alias the inputs or scratch. It panics with a tensor.ShapeError if
// a dimension is negative, dHead is 0, or a slice is too short for the
// dimensions.
func AttentionBackward(dq, dk, dv, dz, pattern, q, k, v, scratch []float32, batch, pos, heads, dHead int) {
	attnCheckQKV("AttentionBackward", "dz q k v", batch, pos, heads, dHead, dz, q, k, v)
	attnCheck("AttentionBackward", "pattern", pattern, batch*heads*pos*pos)
	n := batch * pos * heads * dHead
	attnCheckOpt("AttentionBackward", "dq", dq, n)
	attnCheckOpt("AttentionBackward", "dk", dk, n)
	attnCheckOpt("AttentionBackward", "dv", dv, n)
	needScores := dq != nil || dk != nil
	if needScores {
		attnCheck("AttentionBackward", "scratch", scratch, pos*pos)
	}
	if attnFast(pos, dHead) {
		attentionBackward16(dq, dk, dv, dz, pattern, q, k, v, scratch, batch, pos, heads, nil, nil, true)
		return
	}
	attentionBackwardGo(dq, dk, dv, dz, pattern, q, k, v, scratch, batch, pos, heads, dHead, attnSoftmaxBackwardStore)
}

// attentionBackwardGo is AttentionBackward on Gemm, for any shape
// (arguments checked), with the given storing softmax backward
// (attnSoftmaxBackwardStore, or attnSoftmaxBackStoreGo to measure the
// portable one): the reference for attentionBackward16.
func attentionBackwardGo(dq, dk, dv, dz, pattern, q, k, v, scratch []float32, batch, pos, heads, dHead int, softmaxBack func(dst, dp, p []float32, T int)) {
	needScores := dq != nil || dk != nil
	stride, scale := heads*dHead, attnScale(dHead)
	for b := range batch {
		for h := range heads {
			off, po := (b*pos*heads+h)*dHead, (b*heads+h)*pos*pos
			p := pattern[po : po+pos*pos]
			if dv != nil {
				tensor.Gemm(true, false, pos, dHead, pos, 1, p, pos, dz[off:], stride, 1, dv[off:], stride)
			}
			if !needScores {
				continue
			}
			// ds holds dpattern, then dscores with zeros above the diagonal,
			// so full-square products with it respect the mask.
			ds := scratch[:pos*pos]
			tensor.Gemm(false, true, pos, pos, dHead, 1, dz[off:], stride, v[off:], stride, 0, ds, pos)
			softmaxBack(ds, ds, p, pos)
			if dq != nil {
				tensor.Gemm(false, false, pos, dHead, pos, scale, ds, pos, k[off:], stride, 1, dq[off:], stride)
			}
			if dk != nil {
				tensor.Gemm(true, false, pos, dHead, pos, scale, ds, pos, q[off:], stride, 1, dk[off:], stride)
			}
		}
	}
}

// AttentionForwardQueries is AttentionForward (without scores) computed
// for the query positions lo[b] ≤ i < hi[b] of each sequence b only, for
// training, where only some positions reach the loss: their rows of z and
// pattern are AttentionForward's, bit for bit; the rows of other positions
// are left as they were, or computed too (off the d_head = 16 fast path).
// lo and hi have batch entries with 0 ≤ lo[b] ≤ hi[b] ≤ pos. It panics as
// AttentionForward does, or with a tensor.ShapeError on a bad range.
func AttentionForwardQueries(z, pattern, q, k, v []float32, batch, pos, heads, dHead int, lo, hi []int) {
	attnCheckQKV("AttentionForwardQueries", "q k v z", batch, pos, heads, dHead, q, k, v, z)
	attnCheck("AttentionForwardQueries", "pattern", pattern, batch*heads*pos*pos)
	attnCheckQueries("AttentionForwardQueries", batch, pos, lo, hi)
	if attnFast(pos, dHead) {
		attentionForward16(z, nil, pattern, q, k, v, batch, pos, heads, lo, hi)
		return
	}
	attentionForwardGo(z, nil, pattern, q, k, v, batch, pos, heads, dHead, attnSoftmax)
}

// AttentionBackwardQueries is AttentionBackward given that dz is zero
// outside the query positions [lo[b], hi[b]) of each sequence b (every
// position if lo and hi are nil) and that the pattern holds
// AttentionForwardQueries' rows for them: only those rows of the pattern,
// dz and q are read. Unlike AttentionBackward it OVERWRITES dq, dk and dv
// (no clearing needed), with AttentionBackward's values from zeroed
// gradients. It panics as AttentionBackward does, or with a
// tensor.ShapeError on a bad range.
func AttentionBackwardQueries(dq, dk, dv, dz, pattern, q, k, v, scratch []float32, batch, pos, heads, dHead int, lo, hi []int) {
	attnCheckQKV("AttentionBackwardQueries", "dz q k v", batch, pos, heads, dHead, dz, q, k, v)
	attnCheck("AttentionBackwardQueries", "pattern", pattern, batch*heads*pos*pos)
	n := batch * pos * heads * dHead
	attnCheckOpt("AttentionBackwardQueries", "dq", dq, n)
	attnCheckOpt("AttentionBackwardQueries", "dk", dk, n)
	attnCheckOpt("AttentionBackwardQueries", "dv", dv, n)
	if dq != nil || dk != nil {
		attnCheck("AttentionBackwardQueries", "scratch", scratch, pos*pos)
	}
	if lo != nil || hi != nil {
		attnCheckQueries("AttentionBackwardQueries", batch, pos, lo, hi)
	}
	if attnFast(pos, dHead) {
		attentionBackward16(dq, dk, dv, dz, pattern, q, k, v, scratch, batch, pos, heads, lo, hi, false)
		return
	}
	for _, g := range [][]float32{dq, dk, dv} {
		if g != nil {
			clear(g[:n])
		}
	}
	attentionBackwardGo(dq, dk, dv, dz, pattern, q, k, v, scratch, batch, pos, heads, dHead, attnSoftmaxBackwardStore)
}

// attnCheckQueries panics unless lo and hi hold batch ranges within [0, pos].
func attnCheckQueries(op string, batch, pos int, lo, hi []int) {
	if len(lo) < batch || len(hi) < batch {
		panic(tensor.ShapeError{Op: op, Msg: fmt.Sprintf("lo, hi: need %d ranges, have %d, %d", batch, len(lo), len(hi))})
	}
	for b := range batch {
		if lo[b] < 0 || lo[b] > hi[b] || hi[b] > pos {
			panic(tensor.ShapeError{Op: op, Msg: fmt.Sprintf("sequence %d: query range [%d, %d) outside [0, %d]", b, lo[b], hi[b], pos)})
		}
	}
}

// attnScale is the score scale 1/√dHead (TransformerLens attn_scale).
func attnScale(dHead int) float32 { return float32(1 / math.Sqrt(float64(dHead))) }

// attnMask sets the entries above the diagonal of the T×T block s to −Inf.
func attnMask(s []float32, T int) {
	negInf := float32(math.Inf(-1))
	for i := range T {
		row := s[i*T+i+1 : (i+1)*T]
		for j := range row {
			row[j] = negInf
		}
	}
}

// attnLowerMix accumulates dst_i += alpha·Σ_{j≤i} p[i,j]·x_j for rows
// dst_i = dst[i·stride:][:dh] (x_j likewise) of a T×T block p, never reading
// p above the diagonal: per block of attnBlock rows, Gemm over the columns
// left of the block, then the block's own lower triangle.
func attnLowerMix(dst, p, x []float32, T, stride, dh int, alpha float32) {
	for i0 := 0; i0 < T; i0 += attnBlock {
		i1 := min(T, i0+attnBlock)
		if i0 > 0 {
			tensor.Gemm(false, false, i1-i0, dh, i0, alpha, p[i0*T:], T, x, stride, 1, dst[i0*stride:], stride)
		}
		for i := i0; i < i1; i++ {
			di := dst[i*stride : i*stride+dh]
			for j := i0; j <= i; j++ {
				c, xj := alpha*p[i*T+j], x[j*stride:][:len(di)]
				for d := range di {
					di[d] += c * xj[d]
				}
			}
		}
	}
}

// attnLowerMixT accumulates the transposed product dst_j += alpha·Σ_{i≥j}
// p[i,j]·x_i, never reading p above the diagonal: per block of attnBlock
// columns, Gemm over the rows below the block, then the block's own lower
// triangle.
func attnLowerMixT(dst, p, x []float32, T, stride, dh int, alpha float32) {
	for j0 := 0; j0 < T; j0 += attnBlock {
		j1 := min(T, j0+attnBlock)
		if j1 < T {
			tensor.Gemm(true, false, j1-j0, dh, T-j1, alpha, p[j1*T+j0:], T, x[j1*stride:], stride, 1, dst[j0*stride:], stride)
		}
		for j := j0; j < j1; j++ {
			dj := dst[j*stride : j*stride+dh]
			for i := j; i < j1; i++ {
				c, xi := alpha*p[i*T+j], x[i*stride:][:len(dj)]
				for d := range dj {
					dj[d] += c * xi[d]
				}
			}
		}
	}
}

// attnSoftmax writes the causal row softmax of the T×T block s into p (which
// may be s): row i over j ≤ i, zeros above the diagonal. A row whose scores
// are all −Inf becomes zeros; a NaN (or +Inf) score makes its row NaN. The
// exponentials are tensor.ExpShift's (relative error < 3e-7), which give
// exactly 0 below −87.3, so −Inf scores get probability 0. On AVX-512 it
// runs attnSoftmaxRows (attention_amd64.s, any T), a row at a time in ZMM
// registers with a float32 sum; attnSoftmaxGo is the reference.
func attnSoftmax(p, s []float32, T int) {
	if attnAVX512 && T > 0 {
		_, _ = p[T*T-1], s[T*T-1]
		attnSoftmaxRows(&p[0], &s[0], T, 0, T)
		return
	}
	attnSoftmaxGo(p, s, T)
}

// attnSoftmaxGo is the portable attnSoftmax: ExpShift per row, the sum in
// float64.
func attnSoftmaxGo(p, s []float32, T int) {
	for i := range T {
		src, dst := s[i*T:i*T+i+1], p[i*T:(i+1)*T]
		mx := attnRowMax(src)
		if math.IsInf(float64(mx), -1) { // fully masked row: no probability mass
			clear(dst)
			continue
		}
		row := dst[:len(src)]
		sum := tensor.ExpShift(row, src, mx)
		inv := float32(1 / sum)
		for j := range row {
			row[j] *= inv
		}
		clear(dst[len(src):])
	}
}

// attnRowMax returns the maximum of x (len ≥ 1), NaN if any element is NaN,
// with four independent chains so the comparisons overlap.
func attnRowMax(x []float32) float32 {
	m0, m1, m2, m3 := x[0], x[0], x[0], x[0]
	j := 0
	for ; j+4 <= len(x); j += 4 {
		y := x[j : j+4 : j+4]
		m0, m1, m2, m3 = max(m0, y[0]), max(m1, y[1]), max(m2, y[2]), max(m3, y[3])
	}
	for ; j < len(x); j++ {
		m0 = max(m0, x[j])
	}
	return max(max(m0, m1), max(m2, m3))
}

// attnSoftmaxBackwardStore is attnSoftmaxBackward storing into dst (which
// may be dp), on AVX-512 by attnSoftmaxBackRows (attention_amd64.s, the
// dot product as a float32 tree over lanes).
func attnSoftmaxBackwardStore(dst, dp, p []float32, T int) {
	if attnAVX512 && T > 0 {
		_, _, _ = dst[T*T-1], dp[T*T-1], p[T*T-1]
		attnSoftmaxBackRows(&dst[0], &dp[0], &p[0], T, 0, T)
		return
	}
	attnSoftmaxBackStoreGo(dst, dp, p, T)
}

// attnSoftmaxBackStoreGo is the portable attnSoftmaxBackwardStore.
func attnSoftmaxBackStoreGo(dst, dp, p []float32, T int) { attnSoftmaxBackward(dst, dp, p, T, false) }

// attnSoftmaxBackward computes, row by row over j ≤ i of a T×T block,
// ds[i,j] = p[i,j]·(dp[i,j] − Σ_j' p[i,j']·dp[i,j']) and adds it to dst (add)
// or stores it, with zeros above the diagonal (!add). dst may be dp when
// storing.
func attnSoftmaxBackward(dst, dp, p []float32, T int, add bool) {
	for i := range T {
		pi := p[i*T : i*T+i+1]
		dpi := dp[i*T:][:len(pi)]
		di := dst[i*T : (i+1)*T]
		var dot float32
		for j, x := range pi {
			dot += x * dpi[j]
		}
		if add {
			for j, x := range pi {
				di[j] += x * (dpi[j] - dot)
			}
			continue
		}
		for j, x := range pi {
			di[j] = x * (dpi[j] - dot)
		}
		clear(di[len(pi):])
	}
}

// attnCheckQKV panics unless the dimensions are non-negative, dHead is
// positive, and every [batch, pos, heads, dHead] slice in xs, named by the
// words of names, is long enough.
func attnCheckQKV(op, names string, batch, pos, heads, dHead int, xs ...[]float32) {
	if batch < 0 || pos < 0 || heads < 0 || dHead < 1 {
		panic(tensor.ShapeError{Op: op, Msg: fmt.Sprintf("invalid dimensions batch=%d pos=%d heads=%d d_head=%d", batch, pos, heads, dHead)})
	}
	for i, x := range xs {
		if len(x) < batch*pos*heads*dHead {
			attnCheck(op, strings.Fields(names)[i], x, batch*pos*heads*dHead)
		}
	}
}

// attnPatternLen checks the dimensions of a [batch, heads, pos, pos] tensor
// and returns its length.
func attnPatternLen(op string, batch, heads, pos int) int {
	if batch < 0 || heads < 0 || pos < 0 {
		panic(tensor.ShapeError{Op: op, Msg: fmt.Sprintf("negative dimension batch=%d heads=%d pos=%d", batch, heads, pos)})
	}
	return batch * heads * pos * pos
}

// attnCheck panics with a tensor.ShapeError if len(x) < n.
func attnCheck(op, name string, x []float32, n int) {
	if len(x) < n {
		panic(tensor.ShapeError{Op: op, Msg: fmt.Sprintf("%s: need %d elements, have %d", name, n, len(x))})
	}
}

// attnCheckOpt is attnCheck for an optional (nil = skipped) gradient.
func attnCheckOpt(op, name string, x []float32, n int) {
	if x != nil {
		attnCheck(op, name, x, n)
	}
}
