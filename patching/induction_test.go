package patching

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
)

// loadInduction loads the parity fixture trained on repeated random tokens:
// a 2-layer attention-only model with previous-token heads in layer 0 and
// induction heads in layer 1.
func loadInduction(t *testing.T) *transformer.Model {
	t.Helper()
	inductionModel := testenv.ParityModel(t, "attn2_induction")
	m, err := transformer.LoadWithConfig(filepath.Join(inductionModel, "model.safetensors"), filepath.Join(inductionModel, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestInductionDemonstration patches the trained induction model. Clean
// sequences are 20 distinct random tokens repeated twice, [A, A]; the
// metric is the loss of predicting the repeated half.
//
// Two corruptions show where the previous-token head's output matters:
//
//   - second block scrambled, [A, π(A)]: the induction heads' queries (the
//     current tokens of the second block) are corrupted. A layer-0 head's
//     output can restore almost none of it; the layer-1 induction heads can.
//   - the tokens the previous-token head reads corrupted, [A', A], where A'
//     replaces the tokens at even positions of the first block by tokens
//     not in A. The queries and the copied tokens (odd positions) are
//     intact; only the keys' "previous token" information is lost, and
//     patching the layer-0 heads' outputs restores it. Path patching shows
//     it acts through the induction heads' keys (K-composition), not their
//     queries or values.
func TestInductionDemonstration(t *testing.T) {
	m := loadInduction(t)
	ctx := context.Background()
	const B, R = 16, 20
	rng := rand.New(rand.NewPCG(2026, 6))
	clean := make([][]int, B)
	scrambled := make([][]int, B)
	prevCorrupted := make([][]int, B)
	for b := range clean {
		perm := rng.Perm(m.Cfg.DVocab)
		clean[b] = append(slices.Clone(perm[:R]), perm[:R]...)
		scrambled[b] = slices.Clone(clean[b])
		rng.Shuffle(R, func(i, j int) { scrambled[b][R+i], scrambled[b][R+j] = scrambled[b][R+j], scrambled[b][R+i] })
		prevCorrupted[b] = slices.Clone(clean[b])
		for p := 0; p < R; p += 2 {
			prevCorrupted[b][p] = perm[R+p/2]
		}
	}

	// The previous-token head: the layer-0 head attending most to the
	// previous position.
	capture, cache := hooks.Capture(hooks.Names(hooks.Pattern(0), hooks.Pattern(1)))
	must(m.Run(ctx, clean, capture))
	H, T := m.Cfg.NHeads, 2*R
	score := func(l, h, offset, from int) float64 {
		p, _ := cache.Get(hooks.Pattern(l))
		var s float64
		for b := 0; b < B; b++ {
			for q := from; q < T; q++ {
				s += float64(p.Data[((b*H+h)*T+q)*T+q-offset])
			}
		}
		return s / float64(B*(T-from))
	}
	prev := 0
	for h := 0; h < H; h++ {
		t.Logf("L0H%d: mean attention to the previous token %.3f", h, score(0, h, 1, 1))
		if score(0, h, 1, 1) > score(0, prev, 1, 1) {
			prev = h
		}
	}
	for h := 0; h < H; h++ {
		t.Logf("L1H%d: mean attention to the induction target (pos − %d) %.3f", h, R-1, score(1, h, R-1, R))
	}
	t.Logf("previous-token head: L0H%d", prev)

	normalized := func(e *Experiment, v float64) float64 { return must(Normalize(v, e.Clean(), e.Corrupted())) }
	logSweep := func(e *Experiment) *Grid {
		g := must(must(e.Sweep(ctx, HeadOut, Options{})).Normalize())
		for i, v := range g.Values {
			t.Logf("  patch %s (all positions): %.3f", g.Axes[0][i], v)
		}
		return g
	}
	allL0 := func() []Site {
		var s []Site
		for h := 0; h < H; h++ {
			s = append(s, Site{Kind: HeadOut, Layer: 0, Head: h})
		}
		return s
	}()

	// Second block scrambled.
	loss := Loss{Targets: NextTokenTargets(clean, R)}
	e := must(New(ctx, m, clean, scrambled, loss))
	t.Logf("second block scrambled: loss on the repeated half, clean %.4f, corrupted %.4f; normalised restoration:", e.Clean(), e.Corrupted())
	g := logSweep(e)
	all := normalized(e, must(e.Patch(ctx, allL0...)))
	t.Logf("  all layer-0 heads together: %.3f", all)
	if all > 0.1 || g.At(prev) > 0.1 {
		t.Errorf("second block scrambled: layer-0 heads restore %.3f (L0H%d alone %.3f); expected almost nothing, the queries are corrupted", all, prev, g.At(prev))
	}
	for h := 0; h < H; h++ {
		if g.At(H+h) < 0.2 {
			t.Errorf("second block scrambled: induction head L1H%d restores only %.3f", h, g.At(H+h))
		}
	}

	// The previous tokens corrupted: loss where the current token's earlier
	// occurrence lost its successor's "previous token" (even positions of
	// the second block).
	targets := NextTokenTargets(clean, R)
	for b := range targets {
		for p := R + 1; p < T; p += 2 {
			targets[b][p] = -1
		}
	}
	e = must(New(ctx, m, clean, prevCorrupted, Loss{Targets: targets}))
	t.Logf("previous tokens corrupted: loss at even positions of the repeated half, clean %.4f, corrupted %.4f; normalised restoration:", e.Clean(), e.Corrupted())
	g = logSweep(e)
	all = normalized(e, must(e.Patch(ctx, allL0...)))
	t.Logf("  all layer-0 heads together: %.3f", all)
	if g.At(prev) < 0.3 || all < 0.8 {
		t.Errorf("previous tokens corrupted: the previous-token head L0H%d restores %.3f (want ≥ 0.3), all layer-0 heads %.3f (want ≥ 0.8)", prev, g.At(prev), all)
	}
	for h := 0; h < H; h++ {
		var vals [3]float64
		for i, in := range []Kind{Q, K, V} {
			vals[i] = normalized(e, must(e.PathPatch(ctx, Head{0, prev}, Head{1, h}, in)))
		}
		t.Logf("  path L0H%d → L1H%d: q %.3f, k %.3f, v %.3f", prev, h, vals[0], vals[1], vals[2])
		if vals[1] <= max(vals[0], vals[2]) {
			t.Errorf("path L0H%d → L1H%d: k %.3f is not the largest (q %.3f, v %.3f)", prev, h, vals[1], vals[0], vals[2])
		}
	}
	exact := must(e.Sweep(ctx, HeadOut, Options{ByPos: true}))
	attr := must(e.Attribute(ctx, HeadOut, Options{ByPos: true}))
	ag := must(Compare(exact, attr, 10))
	t.Logf("attribution vs exact, head_out × position (%d sites): Pearson %.3f, top-%d overlap %.2f", len(exact.Values), ag.Pearson, ag.TopK, ag.TopKOverlap)
}
