package patching

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

// roundTol bounds |sweep − naive| / max(1, |naive|) for head_out patches in
// attention-only models, where Sweep adds the head's change to attn_out
// instead of re-running the fused output projection: float32 rounding of
// values of order 1–10, a few ulps.
const roundTol = 1e-5

func TestSelfPatchLeavesMetricUnchanged(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 1)
			clean, _ := pair(2, 3, 7, cfg.DVocab)
			e := must(New(ctx, m, clean, clean, someLogitDiff(clean, cfg.DVocab)))
			if e.Clean() != e.Corrupted() {
				t.Fatalf("clean %v ≠ corrupted %v on identical batches", e.Clean(), e.Corrupted())
			}
			for _, kind := range Kinds() {
				if kind == MLPOut && !cfg.HasMLP() {
					continue
				}
				for _, byPos := range []bool{false, true} {
					for what, sweep := range map[string]func(context.Context, Kind, Options) (*Grid, error){"sweep": e.Sweep, "attribution": e.Attribute} {
						g := must(sweep(ctx, kind, Options{ByPos: byPos}))
						for i, v := range g.Values {
							if v != e.Corrupted() {
								t.Errorf("%s of %v: %v, want the unpatched %v exactly", what, g.Sites[i], v, e.Corrupted())
							}
						}
					}
				}
			}
			v := must(e.PathPatch(ctx, Head{0, 1}, Head{1, 2}, K))
			if v != e.Corrupted() {
				t.Errorf("path patch: %v, want %v exactly", v, e.Corrupted())
			}
		})
	}
}

func TestSweepMatchesNaive(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 3)
			clean, corrupted := pair(4, 3, 7, cfg.DVocab)
			metric := someLogitDiff(clean, cfg.DVocab)
			e := must(New(ctx, m, clean, corrupted, metric))
			for _, kind := range Kinds() {
				if kind == MLPOut && !cfg.HasMLP() {
					continue
				}
				for _, byPos := range []bool{false, true} {
					g := must(e.Sweep(ctx, kind, Options{ByPos: byPos}))
					want := must(naiveSweep(ctx, m, clean, corrupted, metric, g.Sites, 2))
					exact := kind != HeadOut || cfg.HasMLP()
					for i := range want {
						got := g.Values[i]
						if exact && got != want[i] || math.Abs(got-want[i]) > roundTol*math.Max(1, math.Abs(want[i])) {
							t.Errorf("%v (exact %v): sweep %v, full hooked run %v", g.Sites[i], exact, got, want[i])
						}
					}
				}
			}
		})
	}
}

func TestNormalizedEndpoints(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 5)
			clean, corrupted := pair(6, 4, 8, cfg.DVocab)
			e := must(New(ctx, m, clean, corrupted, someLogitDiff(clean, cfg.DVocab)))
			all := must(e.Sweep(ctx, ResidPre, Options{}))
			n := must(all.Normalize())
			if got := n.At(0); got != 1 {
				t.Errorf("resid_pre L0 at every position: normalised %v, want 1 (the clean run)", got)
			}
			post := must(e.Sweep(ctx, ResidPost, Options{}))
			n = must(post.Normalize())
			if got := n.At(cfg.NLayers - 1); got != 1 {
				t.Errorf("resid_post of the last layer at every position: normalised %v, want 1", got)
			}
			// Position 0 and the even positions hold the same token in both
			// runs: their layer-0 residual is the same, patching it is a no-op.
			byPos := must(must(e.Sweep(ctx, ResidPre, Options{ByPos: true})).Normalize())
			for p := 0; p < 8; p += 2 {
				if got := byPos.At(0, p); got != 0 {
					t.Errorf("resid_pre L0 pos %d (same token): normalised %v, want 0", p, got)
				}
			}
			if n.Clean != e.Clean() || n.Corrupted != e.Corrupted() || !n.Normalized {
				t.Errorf("normalised grid: clean %v, corrupted %v, normalised %v", n.Clean, n.Corrupted, n.Normalized)
			}
		})
	}
}

func TestWorkerCountIndependence(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["ln_gelu"]
	m := newModel(t, cfg, 7)
	clean, corrupted := pair(8, 3, 9, cfg.DVocab)
	e := must(New(ctx, m, clean, corrupted, Prob{Answer: []int{3}, Pos: Last}))
	for _, kind := range []Kind{HeadOut, ResidPre, Pattern} {
		var first []float64
		for _, w := range []int{1, 2, 3, 16} {
			g := must(e.Sweep(ctx, kind, Options{ByPos: true, Workers: w}))
			if first == nil {
				first = g.Values
			} else if !slices.Equal(g.Values, first) {
				t.Errorf("%s with %d workers differs from 1 worker", kind, w)
			}
		}
	}
}

func TestSweepCancelled(t *testing.T) {
	cfg := configs()["attn_only"]
	m := newModel(t, cfg, 9)
	clean, corrupted := pair(10, 2, 6, cfg.DVocab)
	e := must(New(context.Background(), m, clean, corrupted, someLogitDiff(clean, cfg.DVocab)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Sweep(ctx, HeadOut, Options{ByPos: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("sweep with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := e.PathSweep(ctx, Head{1, 0}, Q, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("path sweep with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["attn_only"]
	m := newModel(t, cfg, 11)
	clean, corrupted := pair(12, 2, 6, cfg.DVocab)
	ld := someLogitDiff(clean, cfg.DVocab)
	for _, tc := range []struct {
		name             string
		clean, corrupted [][]int
		metric           Metric
	}{
		{"token out of range", [][]int{{1, 2, 13, 4, 5, 6}, clean[1]}, corrupted, ld},
		{"negative token", clean, [][]int{{1, 2, -1, 4, 5, 6}, corrupted[1]}, ld},
		{"batch mismatch", clean, corrupted[:1], ld},
		{"length mismatch", clean, [][]int{corrupted[0][:5], corrupted[1][:5]}, ld},
		{"ragged", [][]int{clean[0], clean[1][:3]}, corrupted, ld},
		{"answer out of range", clean, corrupted, LogitDiff{Answer: []int{13}, Wrong: []int{0}, Pos: Last}},
		{"answers per sequence", clean, corrupted, LogitDiff{Answer: []int{1, 2, 3}, Wrong: []int{0}, Pos: Last}},
		{"metric position", clean, corrupted, Prob{Answer: []int{1}, Pos: 6}},
		{"loss shape", clean, corrupted, Loss{Targets: [][]int{{1}}}},
		{"no metric", clean, corrupted, nil},
	} {
		if _, err := New(ctx, m, tc.clean, tc.corrupted, tc.metric); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
	e := must(New(ctx, m, clean, corrupted, ld))
	if _, err := e.Sweep(ctx, "head_output", Options{}); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := e.Sweep(ctx, MLPOut, Options{}); err == nil {
		t.Error("mlp_out of an attention-only model accepted")
	}
	for _, s := range []Site{{Kind: HeadOut, Layer: 2}, {Kind: HeadOut, Head: 3}, {Kind: ResidPre, Pos: At(6)}, {Kind: "x"}} {
		if _, err := e.Patch(ctx, s); err == nil {
			t.Errorf("Patch(%v) accepted", s)
		}
	}
	for _, p := range []struct {
		s, r Head
		in   Kind
	}{{Head{1, 0}, Head{1, 1}, Q}, {Head{0, 0}, Head{1, 0}, HeadOut}, {Head{0, 3}, Head{1, 0}, V}} {
		if _, err := e.PathPatch(ctx, p.s, p.r, p.in); err == nil {
			t.Errorf("PathPatch(%v, %v, %v) accepted", p.s, p.r, p.in)
		}
	}
}

func TestPatchSeveralSites(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["ln_gelu"]
	m := newModel(t, cfg, 13)
	clean, corrupted := pair(14, 3, 7, cfg.DVocab)
	metric := someLogitDiff(clean, cfg.DVocab)
	e := must(New(ctx, m, clean, corrupted, metric))
	// Every head's output and every MLP output at every layer rebuild the
	// clean run: resid_pre(0) differs, but nothing reads it except through
	// those components... except the residual itself, so patch it too.
	var sites []Site
	for l := 0; l < cfg.NLayers; l++ {
		sites = append(sites, Site{Kind: ResidPre, Layer: l})
	}
	if got := must(e.Patch(ctx, sites...)); got != e.Clean() {
		t.Errorf("patching every resid_pre: %v, want clean %v", got, e.Clean())
	}
	if got := must(e.Patch(ctx)); got != e.Corrupted() {
		t.Errorf("patching nothing: %v, want corrupted %v", got, e.Corrupted())
	}
}
