package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/nn"
)

// attnCausalHeads are the head sizes the causality property runs on: the
// d_head = 16 fast path (AVX-512 builds) and the Gemm path (8) on every
// length, and the other sizes in use (32, 64, and an odd 5 that misses
// every vector width) on a subset up to 513.
var attnCausalHeads = []struct {
	dHead int
	every bool // every length up to 300, and the spread past 1,024
}{{16, true}, {8, true}, {32, false}, {64, false}, {5, false}}

// attnCausalPositions returns the sequence lengths of the causality
// property: every T from 1 to 300 (each register-resident row count, the
// first streamed rows, the first two key chunks) or, for !every, each 7th
// and those around 128 and 256; then 513 and, for every (not under
// -short), 1,024. FuzzAttention runs the kernels to 2,048.
func attnCausalPositions(every bool) []int {
	var ts []int
	for T := 1; T <= 300; T++ {
		if every || T%7 == 1 || T%128 <= 1 || T%128 == 127 {
			ts = append(ts, T)
		}
	}
	ts = append(ts, 513)
	if every && !testing.Short() {
		ts = append(ts, 1024)
	}
	return ts
}

// TestAttentionCausal checks causality on every kernel: perturbing q, k
// and v at position t of sequence 1 leaves every output at positions < t,
// and all of sequence 0, bit-identical, in the fused, step-wise and
// query-range kernels; and a gradient dz that is zero from position t on
// gives exactly zero dq, dk, dv (and dpattern, dscores rows) from t on, with
// the rows before t bit-identical whatever q, k, v hold from t on. Exact
// equality is the property: a causal kernel never reads a later position,
// so no rounding can differ. Two heads up to T = 64 (strided rows), one
// after. Run under -tags purego too (CI does).
func TestAttentionCausal(t *testing.T) {
	for _, hc := range attnCausalHeads {
		dh := hc.dHead
		t.Run(fmt.Sprintf("d_head=%d", dh), func(t *testing.T) {
			for _, T := range attnCausalPositions(hc.every) {
				seed := uint64(T*100 + dh)
				rng := rand.New(rand.NewPCG(seed, seed))
				tp := rng.IntN(T) // the perturbed position
				if T%2 == 0 {
					tp = T - 1
				}
				H := 2
				if T > 64 {
					H = 1
				}
				if !attnCausalOne(t, attnShape{2, T, H, dh}, tp, rng) {
					t.Fatalf("pos=%d d_head=%d perturbed position %d (seed %d): causality broken", T, dh, tp, seed)
				}
			}
		})
	}
}

// attnOutputs is everything a forward and backward of one kernel path give.
type attnOutputs struct {
	scores, pattern, z, dq, dk, dv, dpattern, dscores []float32
}

// attnCausalOne runs every kernel path on random inputs and on the same
// inputs perturbed at position tp of sequence 1, and reports whether the
// property of TestAttentionCausal holds.
func attnCausalOne(t *testing.T, s attnShape, tp int, rng *rand.Rand) bool {
	t.Helper()
	B, T, H, dh := s.batch, s.pos, s.heads, s.dHead
	q, k, v := attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 2), attnRand(rng, s.qkvLen(), 1)
	dz := attnRand(rng, s.qkvLen(), 1)
	for b := range B { // the loss reaches positions < tp only
		clear(dz[(b*T+tp)*H*dh : (b+1)*T*H*dh])
	}
	q2, k2, v2 := slicesClone(q), slicesClone(k), slicesClone(v)
	for _, x := range [][]float32{q2, k2, v2} {
		row := x[(T+tp)*H*dh : (T+tp+1)*H*dh]
		for i := range row {
			row[i] += float32(3 * rng.NormFloat64())
		}
	}
	lo, hi := []int{0, 0}, []int{T, T}
	paths := []struct {
		name string
		run  func(q, k, v []float32) attnOutputs
	}{
		{"fused", func(q, k, v []float32) attnOutputs {
			o := attnOutputs{scores: make([]float32, s.patternLen()), pattern: make([]float32, s.patternLen()), z: make([]float32, s.qkvLen())}
			nn.AttentionForward(o.z, o.scores, o.pattern, q, k, v, B, T, H, dh)
			o.dq, o.dk, o.dv = make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())
			nn.AttentionBackward(o.dq, o.dk, o.dv, dz, o.pattern, q, k, v, attnGarbage(T*T), B, T, H, dh)
			return o
		}},
		{"step-wise", func(q, k, v []float32) attnOutputs {
			o := attnOutputs{scores: make([]float32, s.patternLen()), pattern: make([]float32, s.patternLen()), z: make([]float32, s.qkvLen())}
			nn.AttnScoresForward(o.scores, q, k, B, T, H, dh)
			nn.AttnSoftmaxForward(o.pattern, o.scores, B, H, T)
			nn.AttnMixForward(o.z, o.pattern, v, B, T, H, dh)
			o.dq, o.dk, o.dv = make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())
			o.dpattern, o.dscores = make([]float32, s.patternLen()), make([]float32, s.patternLen())
			nn.AttnMixBackward(o.dpattern, o.dv, dz, o.pattern, v, B, T, H, dh)
			nn.AttnSoftmaxBackward(o.dscores, o.dpattern, o.pattern, B, H, T)
			nn.AttnScoresBackward(o.dq, o.dk, o.dscores, q, k, B, T, H, dh)
			return o
		}},
		{"queries", func(q, k, v []float32) attnOutputs { // the fused kernels off the fast path
			o := attnOutputs{pattern: make([]float32, s.patternLen()), z: make([]float32, s.qkvLen())}
			nn.AttentionForwardQueries(o.z, o.pattern, q, k, v, B, T, H, dh, lo, hi)
			o.dq, o.dk, o.dv = attnGarbage(s.qkvLen()), attnGarbage(s.qkvLen()), attnGarbage(s.qkvLen())
			nn.AttentionBackwardQueries(o.dq, o.dk, o.dv, dz, o.pattern, q, k, v, attnGarbage(T*T), B, T, H, dh, lo, hi)
			return o
		}},
	}
	ok := true
	// check compares a (unperturbed) and b (perturbed) row by row: rows of
	// width w, row r at position pos(r) of sequence seq(r); a row of
	// sequence 0 or before tp must be bit-identical in its first keep(r)
	// entries, and one at or after tp must be zero if zeroAfter.
	check := func(path, name string, a, b []float32, w int, seq, pos func(r int) int, keep func(r int) int, zeroAfter bool) {
		bad := 0
		for r := range len(a) / w {
			ra, rb := a[r*w:(r+1)*w], b[r*w:(r+1)*w]
			if seq(r) == 0 || pos(r) < tp {
				n := keep(r)
				for j := range n {
					if math.Float32bits(ra[j]) != math.Float32bits(rb[j]) {
						if bad++; bad <= 3 {
							t.Errorf("%s %s: %s row %d [%d] = %v, perturbed %v: must not change", s, path, name, r, j, ra[j], rb[j])
						}
					}
				}
			}
			if zeroAfter && pos(r) >= tp {
				for j := range w {
					if ra[j] != 0 || rb[j] != 0 {
						if bad++; bad <= 3 {
							t.Errorf("%s %s: %s row %d [%d] = %v, perturbed %v: a loss before position %d must not reach it", s, path, name, r, j, ra[j], rb[j], tp)
						}
					}
				}
			}
		}
		ok = ok && bad == 0
	}
	// Rows of [batch, pos, heads·dHead] and of [batch, heads, pos, pos].
	qkvSeq, qkvPos := func(r int) int { return r / T }, func(r int) int { return r % T }
	patSeq, patPos := func(r int) int { return r / (H * T) }, func(r int) int { return r % T }
	whole := func(w int) func(int) int { return func(int) int { return w } }
	if !nn.AttnFast(T, dh) {
		paths = paths[:2]
		if nn.AttnAVX512 && dh == 16 { // the fast path's kernels past nn.AttnFastMaxPos
			paths = append(paths, struct {
				name string
				run  func(q, k, v []float32) attnOutputs
			}{"fast kernels", func(q, k, v []float32) attnOutputs {
				o := attnOutputs{scores: make([]float32, s.patternLen()), pattern: make([]float32, s.patternLen()), z: make([]float32, s.qkvLen())}
				nn.AttentionForward16(o.z, o.scores, o.pattern, q, k, v, B, T, H)
				o.dq, o.dk, o.dv = make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())
				nn.AttentionBackward16(o.dq, o.dk, o.dv, dz, o.pattern, q, k, v, attnGarbage(T*T), B, T, H)
				return o
			}})
		}
	}
	for _, pth := range paths {
		a, b := pth.run(q, k, v), pth.run(q2, k2, v2)
		if a.scores != nil {
			check(pth.name, "scores", a.scores, b.scores, T, patSeq, patPos, whole(T), false)
		}
		check(pth.name, "pattern", a.pattern, b.pattern, T, patSeq, patPos, whole(T), false)
		check(pth.name, "z", a.z, b.z, H*dh, qkvSeq, qkvPos, whole(H*dh), false)
		check(pth.name, "dq", a.dq, b.dq, H*dh, qkvSeq, qkvPos, whole(H*dh), true)
		check(pth.name, "dk", a.dk, b.dk, H*dh, qkvSeq, qkvPos, whole(H*dh), true)
		check(pth.name, "dv", a.dv, b.dv, H*dh, qkvSeq, qkvPos, whole(H*dh), true)
		if a.dpattern != nil {
			// dpattern is dz·vᵀ over the full square: it reads v above the
			// diagonal, so only its columns before tp are kept.
			keep := func(r int) int {
				if patSeq(r) == 0 {
					return T
				}
				return tp
			}
			check(pth.name, "dpattern", a.dpattern, b.dpattern, T, patSeq, patPos, keep, true)
			check(pth.name, "dscores", a.dscores, b.dscores, T, patSeq, patPos, whole(T), true)
		}
	}
	return ok
}

// attnGarbage returns n NaNs: scratch or outputs a kernel must overwrite.
func attnGarbage(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}
