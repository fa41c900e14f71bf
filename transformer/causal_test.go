package transformer_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// causalMaxPos is the longest sequence of the model-level causality test.
const causalMaxPos = 1024

// causalConfigs are the models of the causality property: every head size
// the attention kernels specialise (16, the AVX-512 fast path) and the
// Gemm path at 8, 32 and 64, attention-only and full (LayerNorm, GELU
// MLP). every marks the one run on every length up to 300 (nn's
// TestAttentionCausal runs every kernel path on each).
func causalConfigs() []struct {
	name  string
	cfg   transformer.Config
	every bool
} {
	mk := func(heads, dHead int, full bool) transformer.Config {
		c := transformer.Config{NLayers: 2, DModel: heads * dHead, NHeads: heads, DHead: dHead, DVocab: 13, NCtx: causalMaxPos, Seed: 5}
		if full {
			c.DMLP = 2 * c.DModel
			c.NormalizationType = transformer.NormLN
		} else {
			c.AttnOnly = true
		}
		return c
	}
	type cc = struct {
		name  string
		cfg   transformer.Config
		every bool
	}
	return []cc{
		{"attn_only/d_head=16", mk(2, 16, false), true},
		{"full/d_head=16", mk(2, 16, true), false},
		{"attn_only/d_head=8", mk(2, 8, false), false},
		{"full/d_head=8", mk(2, 8, true), false},
		{"attn_only/d_head=32", mk(1, 32, false), false},
		{"full/d_head=32", mk(1, 32, true), false},
		{"attn_only/d_head=64", mk(1, 64, false), false},
		{"full/d_head=64", mk(1, 64, true), false},
	}
}

// causalPositions returns the lengths run: every T up to 300 (or, unless
// every, each 13th and those around 128 and 256), then a spread to
// causalMaxPos. Under -short (CI's race-detector run; the plain run has
// the rest) only lengths on either side of the 16-, 128- and 256-wide
// boundaries.
func causalPositions(every bool) []int {
	if testing.Short() {
		return []int{1, 2, 17, 128, 129, 130, 257}
	}
	var ts []int
	for T := 1; T <= 300; T++ {
		if every || T%13 == 2 || T%128 <= 1 || T%128 == 127 {
			ts = append(ts, T)
		}
	}
	return append(ts, 513, causalMaxPos)
}

// causalCachedAt says at which lengths the hooked run with a full cache
// runs too (memory-bound: every 5th, those around 128 and 256, and 513).
func causalCachedAt(T int) bool { return T%5 == 0 || T%128 <= 1 || T%128 == 127 || T == 513 }

// TestCausality checks, on random models of every causalConfigs entry and
// batches of two sequences, that perturbing token u of sequence 1 changes
// nothing before position u, nor anything in sequence 0, bit for bit: the
// logits of the fused (hook-free) forward, every activation of a full
// cache (the step-wise attention kernels), the gradients of a loss that
// only reads positions < u (through BackwardFrom with random dlogits
// there, with and without hooks, and through Parallel.Step with weights
// only there, which prunes rows and runs the query-range kernels), and the
// cached gradient of every activation, which must be exactly zero from u
// on: no gradient from a loss before u reaches a token at or after it, nor
// W_pos's rows from u on.
func TestCausality(t *testing.T) {
	for ci, cc := range causalConfigs() {
		t.Run(cc.name, func(t *testing.T) {
			m := transformertest.Random(t, cc.cfg, uint64(ci+1))
			for _, T := range causalPositions(cc.every) {
				seed := uint64(T*10 + ci)
				rng := rand.New(rand.NewPCG(seed, seed))
				u := rng.IntN(T)
				if T%2 == 0 {
					u = T - 1
				}
				if !causalOne(t, m, T, u, causalCachedAt(T), rng) {
					t.Fatalf("pos=%d, token %d perturbed (seed %d): causality broken", T, u, seed)
				}
			}
		})
	}
}

// causalRun is what one model evaluation gives.
type causalRun struct {
	logits, fusedLogits []float32
	cache               *hooks.Cache
	grads, fusedGrads   *transformer.Params
	parallelGrads       *transformer.Params // nil if no position before u−1 has a target
}

// causalOne runs m on random tokens and on the same tokens with token u of
// sequence 1 changed, and reports whether TestCausality's property holds.
func causalOne(t *testing.T, m *transformer.Model, T, u int, cached bool, rng *rand.Rand) bool {
	t.Helper()
	const batch = 2
	c := m.Cfg
	vocab := transformertest.TokenVocab(c)
	toks := make([]int32, batch*T)
	for i := range toks {
		toks[i] = int32(rng.IntN(vocab))
	}
	toks2 := append([]int32(nil), toks...)
	toks2[T+u] = (toks[T+u] + 1 + int32(rng.IntN(vocab-1))) % int32(vocab)
	dlogits := make([]float32, batch*T*c.DVocabOut)
	for b := range batch {
		for p := range u {
			row := dlogits[(b*T+p)*c.DVocabOut:][:c.DVocabOut]
			for i := range row {
				row[i] = float32(rng.NormFloat64())
			}
		}
	}
	targets := make([]int32, batch*T)
	weights := make([]float32, batch*T)
	for b := range batch {
		for p := 0; p+1 < u; p++ { // targets are tokens < u
			targets[b*T+p], weights[b*T+p] = toks[b*T+p+1], 1
		}
	}
	ctx := context.Background()
	// One set of workspaces serves both runs: a pass overwrites all it
	// reads, and reusing them halves the memory cleared per length.
	wsFused, wsHooked := m.NewWorkspace(batch, T), (*transformer.Workspace)(nil)
	if cached {
		wsHooked = m.NewWorkspace(batch, T)
	}
	var par *transformer.Parallel
	if u >= 2 { // else no target lies before token u
		var err error
		par, err = m.NewParallel(batch, T, batch, 1)
		must(t, err)
		defer par.Close()
	}
	run := func(toks []int32) causalRun {
		var r causalRun
		must(t, wsFused.Forward(ctx, toks, nil))
		r.fusedLogits = append([]float32(nil), wsFused.Logits().Data...)
		r.fusedGrads = m.NewGrads()
		must(t, wsFused.BackwardFrom(dlogits, r.fusedGrads, nil))

		if cached {
			set, cache := hooks.CaptureWithGrads(nil)
			must(t, wsHooked.Forward(ctx, toks, set))
			r.logits = append([]float32(nil), wsHooked.Logits().Data...)
			r.grads, r.cache = m.NewGrads(), cache
			must(t, wsHooked.BackwardFrom(dlogits, r.grads, set))
		}

		if par != nil {
			r.parallelGrads = m.NewGrads()
			_, err := par.Step(ctx, toks, targets, weights, r.parallelGrads)
			must(t, err)
		}
		return r
	}
	a, b := run(toks), run(toks2)
	ok := true
	fail := func(format string, args ...any) {
		t.Errorf("pos=%d u=%d: "+format, append([]any{T, u}, args...)...)
		ok = false
	}
	// Logits [batch, pos, d_vocab_out].
	for name, pair := range map[string][2][]float32{"logits": {a.logits, b.logits}, "fused logits": {a.fusedLogits, b.fusedLogits}} {
		if i := firstDiff(pair[0], pair[1], func(i int) bool { r := i / c.DVocabOut; return r < T || r%T < u }); i >= 0 {
			fail("%s[%d] changed: %v → %v", name, i, pair[0][i], pair[1][i])
		}
	}
	// Parameter gradients: a loss before u never reads token u, and
	// W_pos's rows from u on get no gradient (from u−1 on in Parallel, whose
	// last weighted position is u−2).
	for _, g := range []struct {
		name string
		a, b *transformer.Params
		from int
	}{{"gradients", a.grads, b.grads, u}, {"fused gradients", a.fusedGrads, b.fusedGrads, u}, {"parallel gradients", a.parallelGrads, b.parallelGrads, u - 1}} {
		if g.a == nil {
			continue
		}
		if i := firstDiff(g.a.Data(), g.b.Data(), func(int) bool { return true }); i >= 0 {
			fail("%s[%d] changed: %v → %v", g.name, i, g.a.Data()[i], g.b.Data()[i])
		}
		for i := g.from * c.DModel; i < T*c.DModel; i++ {
			if g.a.WPos[i] != 0 {
				fail("%s: W_pos row %d = %v, want 0", g.name, i/c.DModel, g.a.WPos[i])
				break
			}
		}
	}
	// Every cached activation and gradient.
	if !cached {
		return ok
	}
	for _, n := range a.cache.Names() {
		x, _ := a.cache.Get(n)
		y, ok2 := b.cache.Get(n)
		if !ok2 {
			fail("%s cached once only", n)
			continue
		}
		if !causalCached(t, n, x, y, T, u) {
			ok = false
		}
	}
	return ok
}

// causalCached checks one cached tensor pair (x unperturbed, y perturbed):
// the entries of sequence 0 and of positions before u bit-identical (for a
// pattern's gradient, also only keys before u: it is dz·vᵀ over the full
// square, as in PyTorch), and for a gradient, exact zeros from u on.
func causalCached(t *testing.T, n hooks.Name, x, y *tensor.Tensor, T, u int) bool {
	t.Helper()
	ax := hooks.PosAxis(n)
	inner := 1 // elements per position along the position axis
	for _, d := range x.Shape[ax+1:] {
		inner *= d
	}
	outer := len(x.Data) / (inner * T) // batch (and heads) before the axis
	perSeq := outer / x.Shape[0]
	patGrad := n.IsGrad() && ax == 2
	for o := range outer {
		seq := o / perSeq
		for p := range T {
			row := (o*T + p) * inner
			for j := range inner {
				i := row + j
				kept := seq == 0 || p < u && (!patGrad || j < u)
				if kept && math.Float32bits(x.Data[i]) != math.Float32bits(y.Data[i]) {
					t.Errorf("pos=%d u=%d: %s sequence %d position %d [%d] changed: %v → %v", T, u, n, seq, p, j, x.Data[i], y.Data[i])
					return false
				}
				if n.IsGrad() && p >= u && (x.Data[i] != 0 || y.Data[i] != 0) {
					t.Errorf("pos=%d u=%d: %s sequence %d position %d [%d] = %v, %v: a loss before %d reaches it", T, u, n, seq, p, j, x.Data[i], y.Data[i], u)
					return false
				}
			}
		}
	}
	return true
}

// firstDiff returns the first index i with kept(i) where a and b differ
// in bits, or −1.
func firstDiff(a, b []float32, kept func(int) bool) int {
	for i := range a {
		if kept(i) && math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
