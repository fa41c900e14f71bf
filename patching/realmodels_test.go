package patching

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/hf"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// llamaLike is a grouped-query (4 query heads, 2 key/value heads), rotary,
// RMSNorm, SwiGLU model; pythiaLike has partial rotary and parallel
// attention and MLP (no hook_resid_mid).
func llamaLike() transformer.Config {
	return transformer.Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 24, DVocab: 13, NCtx: 10,
		NormalizationType: transformer.NormRMS, PositionalEmbeddingType: transformer.PosRotary, NKeyValueHeads: 2,
		GatedMLP: true, ActFn: transformer.ActSiLU, Seed: 5}
}

func pythiaLike() transformer.Config {
	return transformer.Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 24, DVocab: 13, NCtx: 10,
		NormalizationType: transformer.NormLN, PositionalEmbeddingType: transformer.PosRotary, RotaryDim: 2,
		ParallelAttnMLP: true, Seed: 5}
}

// TestSweepGroupedKV checks k and v sweeps of a grouped-query model: one
// row per key/value head (hook_k and hook_v have n_key_value_heads heads),
// each equal to patching every query head of its group at once in the same
// model written out with one key/value head per query head.
func TestSweepGroupedKV(t *testing.T) {
	ctx := context.Background()
	m := newModel(t, llamaLike(), 3)
	u := transformertest.Ungrouped(t, m)
	clean, corrupted := pair(9, 3, 8, m.Cfg.DVocab)
	metric := LogitDiff{Answer: []int{1}, Wrong: []int{2}, Pos: Last}
	eg, err := New(ctx, m, clean, corrupted, metric)
	if err != nil {
		t.Fatal(err)
	}
	eu, err := New(ctx, u, clean, corrupted, metric)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cfg
	group := c.NHeads / c.NKeyValueHeads
	for _, kind := range []Kind{K, V} {
		for _, byPos := range []bool{false, true} {
			g, err := eg.Sweep(ctx, kind, Options{ByPos: byPos})
			if err != nil {
				t.Fatal(err)
			}
			if rows := g.Shape()[0]; rows != c.NLayers*c.NKeyValueHeads {
				t.Fatalf("%s sweep: %d rows, want %d layers × %d key/value heads", kind, rows, c.NLayers, c.NKeyValueHeads)
			}
			if g.Axes[0][1] != "L0KV1" {
				t.Errorf("%s sweep: row label %q, want L0KV1", kind, g.Axes[0][1])
			}
			for i, s := range g.Sites {
				var sites []Site
				for h := s.Head * group; h < (s.Head+1)*group; h++ {
					sites = append(sites, Site{Kind: kind, Layer: s.Layer, Head: h, Pos: s.Pos})
				}
				want, err := eu.Patch(ctx, sites...)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(g.Values[i]-want) > 1e-4*(1+math.Abs(want)) {
					t.Errorf("%s %v: grouped %g, the ungrouped model's group patch %g", kind, s, g.Values[i], want)
				}
			}
		}
		if err := (Site{Kind: kind, Layer: 0, Head: c.NKeyValueHeads}).Check(c, 8); err == nil {
			t.Errorf("%s site at key/value head %d of %d: no error", kind, c.NKeyValueHeads, c.NKeyValueHeads)
		}
	}
	// Path patching into a grouped receiver's key input runs, and with
	// clean = corrupted returns the corrupted metric.
	same, err := New(ctx, m, clean, clean, metric)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []Kind{Q, K, V} {
		v, err := same.PathPatch(ctx, Head{0, 3}, Head{1, 3}, in)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(v-same.Corrupted()) > 1e-5*(1+math.Abs(v)) {
			t.Errorf("path patch into %s with clean = corrupted: %g, want %g", in, v, same.Corrupted())
		}
	}
}

// TestSweepParallelBlocks checks every sweep of a model with parallel
// attention and MLP, which has no hook_resid_mid, against the naive
// reference (a forward pass per site).
func TestSweepParallelBlocks(t *testing.T) {
	ctx := context.Background()
	m := newModel(t, pythiaLike(), 4)
	clean, corrupted := pair(2, 2, 8, m.Cfg.DVocab)
	metric := LogitDiff{Answer: []int{3}, Wrong: []int{4}, Pos: Last}
	e, err := New(ctx, m, clean, corrupted, metric)
	if err != nil {
		t.Fatal(err)
	}
	sweepsMatchNaive(t, "pythia_like", e, m, clean, corrupted, metric)
}

// sweepsMatchNaive runs every kind of sweep of e and compares it with
// naiveSweep on the same model, batches and metric.
func sweepsMatchNaive(t *testing.T, name string, e *Experiment, m *transformer.Model, clean, corrupted [][]int, metric Metric) {
	t.Helper()
	ctx := context.Background()
	for _, kind := range Kinds() {
		g, err := e.Sweep(ctx, kind, Options{})
		if err != nil {
			t.Fatalf("%s %s: %v", name, kind, err)
		}
		want, err := naiveSweep(ctx, m, clean, corrupted, metric, g.Sites, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Abs(g.Values[i]-want[i]) > 1e-4*(1+math.Abs(want[i])) {
				t.Errorf("%s %s %v: %g, naive %g", name, kind, g.Sites[i], g.Values[i], want[i])
			}
		}
	}
}

// TestSweepHuggingFaceModels runs every sweep on the Hugging Face fixtures
// (GPT-2; Pythia: partial rotary, parallel blocks; Llama: grouped-query
// attention, SwiGLU) against the naive reference.
func TestSweepHuggingFaceModels(t *testing.T) {
	ctx := context.Background()
	dir := testenv.SharedDir(t, "hf")
	for _, name := range []string{"gpt2_tiny", "pythia_tiny", "llama_gqa_tiny"} {
		m, err := hf.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		clean, corrupted := pair(6, 2, 10, m.Cfg.DVocab)
		metric := LogitDiff{Answer: []int{clean[0][9]}, Wrong: []int{corrupted[0][9]}, Pos: Last}
		e, err := New(ctx, m, clean, corrupted, metric)
		if err != nil {
			t.Fatal(err)
		}
		sweepsMatchNaive(t, name, e, m, clean, corrupted, metric)
	}
}
