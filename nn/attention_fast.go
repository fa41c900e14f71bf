package nn

import "math"

// The AVX-512 fast path for d_head = 16 (attention_amd64.s), used by
// AttentionForward, AttentionBackward, AttnScoresForward and AttnMixForward
// when attnFast says so; the Gemm-based kernels in attention.go are the
// readable reference it is tested against (attention_fast_test.go).
//
// A head's row of q, k, v or z is one ZMM register of 16 floats. Per
// (batch, head) tile the keys (forward) or values (backward) are
// transposed, attnFastChunk source positions at a time, into 16 rows on
// the stack, so that a score row is 16 broadcast-FMAs per block of 16
// source positions; only blocks on or below the diagonal are computed, and
// any pos works (attn16LowerTiled). The products with the pattern and
// dscores run over the causal triangle only, with the pattern entries
// broadcast from memory. Softmax and its backward are vectorised row by
// row, with tensor.ExpShift's exponential.
//
// The step-wise AttnScoresForward and AttnMixForward run the same kernels
// in the same order as AttentionForward, so hooking scores or pattern (which
// switches to the step-wise functions) leaves every result bit-identical.

const (
	// attnFastDHead is the head size of the fast path: one ZMM register.
	attnFastDHead = 16
	// attnFastChunk is the number of source positions transposed at a
	// time: the transposed keys or values (16 × 128 floats, 8 KiB) live in
	// a stack array, and the scores are computed one column chunk of the
	// tile after another.
	attnFastChunk = 128
	// attnFastMaxPos is the longest pos the fast path is chosen for,
	// although its kernels handle any pos: past it the Gemm path measured
	// faster (BenchmarkAttentionLong, 4 heads, medians on a loaded
	// machine: the fast path 1.1 to 2.6× the Gemm path's tokens per second
	// at pos 256 to 768, 0.8 to 0.9× at 1,024, where pattern rows 4 KiB
	// apart compete for the same L1 sets in the mix kernels).
	attnFastMaxPos = 768
)

// attnPackBuf holds attnFastChunk transposed rows of 16 floats.
type attnPackBuf [attnFastDHead * attnFastChunk]float32

// attnFast reports whether the AVX-512 fast path runs this shape: d_head
// 16 and 1 ≤ pos ≤ attnFastMaxPos.
func attnFast(pos, dHead int) bool {
	return attnAVX512 && dHead == attnFastDHead && pos >= 1 && pos <= attnFastMaxPos
}

// attn16LowerTiled writes rows r0 ≤ i < r1 of the T×T tile out (row
// stride T): out[i, j] = alpha·a_i·b_j for j ≤ i and fill for i < j < T,
// where a_i and b_j are rows of 16 floats at stride apart. Per chunk of
// attnFastChunk columns c0.. it transposes the rows b_j it needs (j < r1)
// into buf and runs attn16Lower on the sub-tile from (c0, c0): rows i ≥
// c0 there, and rows r0 ≤ i < c0 (a negative first row) all fill, so
// every entry of the rows is computed once, whatever T.
func attn16LowerTiled(out, a, b []float32, stride, T, r0, r1 int, alpha, fill float32, buf *attnPackBuf) {
	for c0 := 0; c0 < T; c0 += attnFastChunk {
		w := min(attnFastChunk, T-c0)
		ld := attnPad16(w)
		if n := min(w, r1-c0); n > 0 {
			attn16PackT(&buf[0], ld, &b[c0*stride], stride, n)
		}
		attn16Lower(&out[c0*T+c0], T, &a[c0*stride], stride, &buf[0], ld, w, r0-c0, r1-c0, alpha, fill)
	}
}

// attnPad16 rounds pos up to a multiple of 16: the row stride of a
// transposed tile.
func attnPad16(pos int) int { return (pos + 15) &^ 15 }

// attnQueries returns the query rows [r0, r1) of sequence b: all of them
// if lo is nil, else [lo[b], hi[b]).
func attnQueries(lo, hi []int, b, pos int) (r0, r1 int) {
	if lo == nil {
		return 0, pos
	}
	return lo[b], hi[b]
}

// attentionForward16 is AttentionForward on the fast path (arguments
// checked; scores may be nil), for the query rows attnQueries(lo, hi)
// only: their scores need keys up to the last of them.
func attentionForward16(z, scores, pattern, q, k, v []float32, batch, pos, heads int, lo, hi []int) {
	attentionForward16Pairs(z, scores, pattern, q, k, v, pos, heads, 0, batch*heads, lo, hi)
}

// attentionForward16Pairs is attentionForward16 for the (batch, head)
// pairs b·heads + h in [from, to) only.
func attentionForward16Pairs(z, scores, pattern, q, k, v []float32, pos, heads, from, to int, lo, hi []int) {
	var kT attnPackBuf
	stride, scale := heads*attnFastDHead, attnScale(attnFastDHead)
	negInf := float32(math.Inf(-1))
	for bh := from; bh < to; bh++ {
		b, h := bh/heads, bh%heads
		r0, r1 := attnQueries(lo, hi, b, pos)
		if r0 >= r1 {
			continue
		}
		off, po := (b*pos*heads+h)*attnFastDHead, bh*pos*pos
		p := pattern[po : po+pos*pos]
		s := p // without scores, the softmax runs in place
		if scores != nil {
			s = scores[po : po+pos*pos]
		}
		attn16LowerTiled(s, q[off:], k[off:], stride, pos, r0, r1, scale, negInf, &kT)
		attnSoftmaxRows(&p[0], &s[0], pos, r0, r1)
		attn16Mix(&z[off], stride, &p[0], pos, &v[off], stride, 0, 0, r0, r1, 1)
	}
}

// attnScoresForward16 is AttnScoresForward on the fast path.
func attnScoresForward16(scores, q, k []float32, batch, pos, heads int) {
	var kT attnPackBuf
	stride, scale := heads*attnFastDHead, attnScale(attnFastDHead)
	negInf := float32(math.Inf(-1))
	for b := range batch {
		for h := range heads {
			off, so := (b*pos*heads+h)*attnFastDHead, (b*heads+h)*pos*pos
			attn16LowerTiled(scores[so:so+pos*pos], q[off:], k[off:], stride, pos, 0, pos, scale, negInf, &kT)
		}
	}
}

// attnMixForward16 is AttnMixForward on the fast path: the sum runs over
// every source position, in the chains of AttentionForward's causal sum.
func attnMixForward16(z, pattern, v []float32, batch, pos, heads int) {
	stride := heads * attnFastDHead
	for b := range batch {
		for h := range heads {
			off, po := (b*pos*heads+h)*attnFastDHead, (b*heads+h)*pos*pos
			attn16Mix(&z[off], stride, &pattern[po], pos, &v[off], stride, 1, 0, 0, pos, 1)
		}
	}
}

// attentionBackward16 is AttentionBackward on the fast path (arguments
// checked; scratch holds pos·pos floats when dq or dk is wanted), given
// that dz is zero outside the query rows attnQueries(lo, hi), the only
// rows of the pattern it reads. Unless add is set it overwrites dq, dk and
// dv, zeroing what the query rows do not reach.
func attentionBackward16(dq, dk, dv, dz, pattern, q, k, v, scratch []float32, batch, pos, heads int, lo, hi []int, add bool) {
	var vT attnPackBuf
	stride, scale := heads*attnFastDHead, attnScale(attnFastDHead)
	needScores := dq != nil || dk != nil
	acc := 0
	if add {
		acc = 1
	}
	for b := range batch {
		r0, r1 := attnQueries(lo, hi, b, pos)
		if !add { // rows the kernels below do not write: dq outside
			// [r0, r1), dk and dv from r1 on (all of them if empty)
			seq, from := b*pos*stride, r1
			if r0 >= r1 {
				r0, r1, from = 0, 0, 0
			}
			for _, g := range [][]float32{dq, dk, dv} {
				if g != nil {
					clear(g[seq+from*stride : seq+pos*stride])
				}
			}
			if dq != nil {
				clear(dq[seq : seq+r0*stride])
			}
		}
		if r0 >= r1 {
			continue
		}
		for h := range heads {
			off, po := (b*pos*heads+h)*attnFastDHead, (b*heads+h)*pos*pos
			p := &pattern[po]
			if dv != nil { // dv_j += Σ_{i≥j} p[i,j]·dz_i
				attn16ColMix(&dv[off], stride, p, pos, &dz[off], stride, r0, r1, acc, 1)
			}
			if !needScores {
				continue
			}
			// ds holds dpattern = dz·vᵀ on and below the diagonal, then
			// dscores, zero above it.
			ds := &scratch[0]
			attn16LowerTiled(scratch[:pos*pos], dz[off:], v[off:], stride, pos, r0, r1, 1, 0, &vT)
			attnSoftmaxBackRows(ds, ds, p, pos, r0, r1)
			if dq != nil { // dq_i += scale·Σ_{j≤i} ds[i,j]·k_j
				attn16Mix(&dq[off], stride, ds, pos, &k[off], stride, 0, acc, r0, r1, scale)
			}
			if dk != nil { // dk_j += scale·Σ_{i≥j} ds[i,j]·q_i
				attn16ColMix(&dk[off], stride, ds, pos, &q[off], stride, r0, r1, acc, scale)
			}
		}
	}
}
