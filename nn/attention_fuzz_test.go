package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/nn"
)

// attnFuzzMaxPos is the longest sequence the fuzz targets build: GPT-2's
// context twice over.
const attnFuzzMaxPos = 2048

// attnLongTol bounds |kernel − float64 reference| / (1 + |reference|) on
// sequences up to attnFuzzMaxPos: float32 sums of up to 2,048 terms (the
// softmax normaliser, pattern·v, and the backward's dot products and
// column sums) each lose up to about √n·6e-8 relative to their largest
// partial sums in practice, carried through up to three products in
// backward. Observed ≤ 2e-5 on the seed corpus.
const attnLongTol = 5e-5

// attnFuzzHeads are the head sizes in use: the toy models' 4, 8, 12 and 16
// (the AVX-512 fast path), GPT-2-like 32 and 64, and odd 1 and 5.
var attnFuzzHeads = []int{16, 4, 8, 12, 32, 64, 1, 5}

// attnFuzzPos maps a fuzzed length onto [1, attnFuzzMaxPos].
func attnFuzzPos(n uint16) int { return 1 + int(n)%attnFuzzMaxPos }

// softmaxRef64 is the float64 causal softmax of row i of the T×T block s:
// probabilities for j ≤ i (zeros for a row that is −Inf throughout).
func softmaxRef64(s []float32, T, i int) []float64 {
	row := make([]float64, i+1)
	mx := math.Inf(-1)
	for j := range row {
		mx = math.Max(mx, float64(s[i*T+j]))
	}
	if math.IsInf(mx, -1) {
		return row
	}
	var sum float64
	for j := range row {
		row[j] = math.Exp(float64(s[i*T+j]) - mx)
		sum += row[j]
	}
	for j := range row {
		row[j] /= sum
	}
	return row
}

// FuzzAttnSoftmax checks the causal softmax and its backward, on every
// kernel this build has, against float64 references: T up to 2,048, scores
// of any scale with −Inf entries (some rows fully masked) and NaN garbage
// above the diagonal, which must never be read. The row kernels run on a
// fuzzed row range and must not touch the other rows.
func FuzzAttnSoftmax(f *testing.F) {
	for _, seed := range []struct {
		pos           uint16
		seed          uint64
		scale         float64
		masked, r0, n uint16
	}{
		{0, 1, 1, 0, 0, 1}, {6, 2, 10, 5, 0, 7}, {15, 3, 1, 0, 3, 40}, {16, 4, 30, 9, 0, 17},
		{126, 5, 3, 7, 0, 127}, {127, 6, 3, 7, 100, 28}, {128, 7, 3, 3, 120, 9}, {143, 8, 1, 0, 128, 16},
		{255, 9, 5, 11, 0, 256}, {256, 10, 5, 0, 250, 7}, {299, 11, 2, 4, 0, 300}, {1023, 12, 2, 0, 960, 64},
		{1499, 13, 8, 6, 1400, 100}, {1599, 14, 1, 0, 1536, 64}, {2047, 15, 40, 2, 0, 2048},
	} {
		f.Add(seed.pos, seed.seed, seed.scale, seed.masked, seed.r0, seed.n)
	}
	f.Fuzz(func(t *testing.T, pos uint16, seed uint64, scale float64, masked, r0, n uint16) {
		T := attnFuzzPos(pos)
		if math.IsNaN(scale) || math.IsInf(scale, 0) {
			scale = 1
		}
		scale = math.Min(math.Abs(scale), 1e3)
		lo := int(r0) % T
		hi := lo + int(n)%(T-lo+1)
		rng := rand.New(rand.NewPCG(seed, seed))
		s := make([]float32, T*T)
		negInf, nan := float32(math.Inf(-1)), float32(math.NaN())
		for i := range T {
			for j := range T {
				switch {
				case j > i:
					s[i*T+j] = nan // above the diagonal: never read
				case masked > 0 && rng.IntN(int(masked)+8) == 0:
					s[i*T+j] = negInf
				default:
					s[i*T+j] = float32(scale * rng.NormFloat64())
				}
			}
			if masked > 0 && i%int(masked+3) == 0 {
				for j := 0; j <= i; j++ {
					s[i*T+j] = negInf // a fully masked row
				}
			}
		}
		dp := attnRand(rng, T*T, 1)

		// The public kernels over all rows, against float64.
		p := make([]float32, T*T)
		nn.AttnSoftmaxForward(p, s, 1, 1, T)
		ds := make([]float32, T*T)
		nn.AttnSoftmaxBackward(ds, dp, p, 1, 1, T)
		wantP, wantDS := make([]float64, T*T), make([]float64, T*T)
		for i := range T {
			ref := softmaxRef64(s, T, i)
			var dot float64
			for j, x := range ref {
				wantP[i*T+j] = x
				dot += float64(p[i*T+j]) * float64(dp[i*T+j])
			}
			for j := range ref {
				wantDS[i*T+j] = float64(p[i*T+j]) * (float64(dp[i*T+j]) - dot)
			}
		}
		attnCompare(t, "pattern", p, wantP, attnLongTol)
		attnCompare(t, "dscores", ds, wantDS, attnLongTol)

		// In place: the same bits.
		inPlace := slicesClone(s)
		nn.AttnSoftmaxForward(inPlace, inPlace, 1, 1, T)
		attnCompare(t, "in-place pattern", inPlace, nn.To64(p), 0)

		// The portable and AVX-512 row kernels on rows [lo, hi) only.
		goP := slicesClone(p)
		nn.AttnSoftmaxGo(goP, s, T)
		attnCompareF32(t, "portable pattern", goP, p, attnFastTol)
		if !nn.AttnAVX512 {
			return
		}
		const poison = -3.25
		rows := make([]float32, T*T)
		for i := range rows {
			rows[i] = poison
		}
		nn.AttnSoftmaxRows(&rows[0], &s[0], T, lo, hi)
		back := make([]float32, T*T)
		for i := range back {
			back[i] = poison
		}
		nn.AttnSoftmaxBackRows(&back[0], &dp[0], &p[0], T, lo, hi)
		for i := range T {
			r := rows[i*T : (i+1)*T]
			b := back[i*T : (i+1)*T]
			if i < lo || i >= hi {
				for j := range T {
					if r[j] != poison || b[j] != poison {
						t.Fatalf("T=%d rows [%d, %d): row %d written", T, lo, hi, i)
					}
				}
				continue
			}
			attnCompare(t, "rows pattern", r, wantP[i*T:(i+1)*T], attnLongTol)
			attnCompare(t, "rows dscores", b, wantDS[i*T:(i+1)*T], attnLongTol)
		}
	})
}

// FuzzAttention checks the fused attention forward and backward, on the
// kernels this build chooses (the d_head = 16 fast path on AVX-512 up to
// nn.AttnFastMaxPos, Gemm otherwise), and on AVX-512 the fast path's
// kernels at any T, against the float64 reference attnRef, for T up to
// 2,048 and every head size in attnFuzzHeads.
func FuzzAttention(f *testing.F) {
	for _, seed := range []struct {
		pos   uint16
		head  uint8
		seed  uint64
		scale float64
	}{
		{0, 0, 1, 1}, {16, 1, 2, 2}, {39, 0, 3, 2}, {127, 0, 4, 1}, {128, 2, 5, 1}, {129, 0, 6, 3},
		{143, 3, 7, 1}, {255, 0, 8, 2}, {256, 4, 9, 1}, {299, 5, 10, 1}, {512, 6, 11, 2}, {776, 7, 12, 1},
		{1023, 0, 13, 1}, {1024, 2, 14, 1}, {2047, 0, 15, 1},
	} {
		f.Add(seed.pos, seed.head, seed.seed, seed.scale)
	}
	f.Fuzz(func(t *testing.T, pos uint16, head uint8, seed uint64, scale float64) {
		T, dh := attnFuzzPos(pos), attnFuzzHeads[int(head)%len(attnFuzzHeads)]
		if math.IsNaN(scale) || math.IsInf(scale, 0) {
			scale = 1
		}
		scale = math.Min(math.Abs(scale), 4)
		s := attnShape{1, T, 1, dh}
		if T <= 256 {
			s = attnShape{2, T, 2, dh} // batch and head strides
		}
		rng := rand.New(rand.NewPCG(seed, seed))
		q, k, v, dz := attnRand(rng, s.qkvLen(), scale), attnRand(rng, s.qkvLen(), scale), attnRand(rng, s.qkvLen(), 1), attnRand(rng, s.qkvLen(), 1)
		ref := newAttnRef(s, q, k, v, dz)
		z, scores, pattern := make([]float32, s.qkvLen()), make([]float32, s.patternLen()), make([]float32, s.patternLen())
		nn.AttentionForward(z, scores, pattern, q, k, v, s.batch, T, s.heads, dh)
		attnCompare(t, "scores", scores, ref.scores, attnLongTol)
		attnCompare(t, "pattern", pattern, ref.pattern, attnLongTol)
		attnCompare(t, "z", z, ref.z, attnLongTol)
		dq, dk, dv := make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())
		nn.AttentionBackward(dq, dk, dv, dz, pattern, q, k, v, attnGarbage(T*T), s.batch, T, s.heads, dh)
		attnCompare(t, "dq", dq, ref.dq, attnLongTol)
		attnCompare(t, "dk", dk, ref.dk, attnLongTol)
		attnCompare(t, "dv", dv, ref.dv, attnLongTol)
		if !nn.AttnAVX512 || dh != 16 {
			return
		}
		// The fast path's kernels directly, at any T (the public
		// functions choose them up to nn.AttnFastMaxPos only).
		zf, pf := make([]float32, s.qkvLen()), make([]float32, s.patternLen())
		nn.AttentionForward16(zf, nil, pf, q, k, v, s.batch, T, s.heads)
		attnCompare(t, "fast-path pattern", pf, ref.pattern, attnLongTol)
		attnCompare(t, "fast-path z", zf, ref.z, attnLongTol)
		dqf, dkf, dvf := make([]float32, s.qkvLen()), make([]float32, s.qkvLen()), make([]float32, s.qkvLen())
		nn.AttentionBackward16(dqf, dkf, dvf, dz, pf, q, k, v, attnGarbage(T*T), s.batch, T, s.heads)
		attnCompare(t, "fast-path dq", dqf, ref.dq, attnLongTol)
		attnCompare(t, "fast-path dk", dkf, ref.dk, attnLongTol)
		attnCompare(t, "fast-path dv", dvf, ref.dv, attnLongTol)
	})
}
