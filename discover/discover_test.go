package discover

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/patching"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// configs are tiny models covering the receivers' code paths: no
// normalization (attention-only and with a GELU MLP: a ReLU's kinks would
// defeat the finite differences), LayerNorm with GELU, RMSNorm, and the
// real-model families: rotary with grouped-query attention and a gated
// MLP (Llama), partial rotary with parallel attention and MLP (Pythia).
func configs() map[string]transformer.Config {
	base := transformer.Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DVocab: 13, NCtx: 10, Seed: 5}
	v := map[string]transformer.Config{}
	add := func(name string, f func(c *transformer.Config)) {
		c := base
		f(&c)
		v[name] = c
	}
	add("attn_only", func(c *transformer.Config) { c.AttnOnly = true })
	add("mlp_no_norm", func(c *transformer.Config) { c.DMLP = 24; c.ActFn = transformer.ActGELU })
	add("ln_gelu", func(c *transformer.Config) { c.DMLP = 24; c.NormalizationType = transformer.NormLN })
	add("rms", func(c *transformer.Config) {
		c.DMLP = 24
		c.NormalizationType = transformer.NormRMS
		c.ActFn = transformer.ActGELUNew
	})
	add("llama_like", func(c *transformer.Config) {
		c.DMLP = 24
		c.NormalizationType = transformer.NormRMS
		c.PositionalEmbeddingType = transformer.PosRotary
		c.NKeyValueHeads = 2
		c.GatedMLP = true
		c.ActFn = transformer.ActSiLU
	})
	add("pythia_like", func(c *transformer.Config) {
		c.DMLP = 24
		c.NormalizationType = transformer.NormLN
		c.PositionalEmbeddingType = transformer.PosRotary
		c.RotaryDim = 2
		c.ParallelAttnMLP = true
	})
	return v
}

// pair returns a clean batch and a corrupted one differing at every
// second position.
func pair(seed uint64, batch, pos, vocab int) (clean, corrupted [][]int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	clean = transformertest.Tokens(rng, batch, pos, vocab)
	corrupted = make([][]int, batch)
	for b := range clean {
		corrupted[b] = append([]int(nil), clean[b]...)
		for p := 1; p < pos; p += 2 {
			corrupted[b][p] = (clean[b][p] + 1 + rng.IntN(vocab-1)) % vocab
		}
	}
	return clean, corrupted
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

// TestEvaluateEnds checks the two ends of every circuit: keeping every
// edge is the clean run, ablating every edge with the corrupted outputs is
// the corrupted run — each receiver, recomputed from corrupted inputs
// only, reproduces the corrupted run layer by layer.
func TestEvaluateEnds(t *testing.T) {
	ctx := context.Background()
	for name, c := range configs() {
		m := transformertest.Random(t, c, 3)
		clean, corrupted := pair(4, 3, 8, c.DVocab)
		metric := patching.LogitDiff{Answer: []int{1}, Wrong: []int{2}, Pos: patching.Last}
		e, err := New(ctx, m, clean, corrupted, metric, Corrupted)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lc, _ := m.Run(ctx, clean, nil)
		lx, _ := m.Run(ctx, corrupted, nil)
		full, err := e.Evaluate(ctx, e.Graph().Full())
		if err != nil {
			t.Fatal(err)
		}
		empty, err := e.Evaluate(ctx, make([]bool, len(e.Graph().Edges)))
		if err != nil {
			t.Fatal(err)
		}
		if want := metric.Value(lc); !near(full, want, 1e-5) {
			t.Errorf("%s: full circuit %g, clean run %g", name, full, want)
		}
		if want := metric.Value(lx); !near(empty, want, 1e-4) {
			t.Errorf("%s: empty circuit %g, corrupted run %g", name, empty, want)
		}
	}
}

// TestNodeAblationIsPatching checks a circuit that drops every edge out
// of one sender against the patching package's activation patching of
// that component (the clean run with the corrupted output there).
func TestNodeAblationIsPatching(t *testing.T) {
	ctx := context.Background()
	for name, c := range configs() {
		m := transformertest.Random(t, c, 6)
		clean, corrupted := pair(8, 2, 8, c.DVocab)
		metric := patching.LogitDiff{Answer: []int{3}, Wrong: []int{4}, Pos: patching.Last}
		e, err := New(ctx, m, clean, corrupted, metric, Corrupted)
		if err != nil {
			t.Fatal(err)
		}
		// patching's "clean" is the source of the patched activation: the
		// corrupted batch here.
		p, err := patching.New(ctx, m, corrupted, clean, metric)
		if err != nil {
			t.Fatal(err)
		}
		g := e.Graph()
		for si, s := range g.Senders {
			var site patching.Site
			switch s.Kind {
			case Head:
				site = patching.Site{Kind: patching.HeadOut, Layer: s.Layer, Head: s.Head}
			case MLP:
				site = patching.Site{Kind: patching.MLPOut, Layer: s.Layer}
			default:
				continue
			}
			keep := g.Full()
			for _, ei := range g.from[si] {
				keep[ei] = false
			}
			got, err := e.Evaluate(ctx, keep)
			if err != nil {
				t.Fatal(err)
			}
			want, err := p.Patch(ctx, site)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, want, 1e-4) {
				t.Errorf("%s: dropping %v's edges gives %g, patching its output %g", name, s, got, want)
			}
		}
	}
}

// TestEAPExactWhenLinear: in an attention-only model without
// normalization the logit difference is linear in the logits' input and,
// the patterns being fixed, in the last layer's value inputs, so EAP's
// score of each such edge equals the exact effect of ablating it alone.
func TestEAPExactWhenLinear(t *testing.T) {
	ctx := context.Background()
	m := transformertest.Random(t, configs()["attn_only"], 9)
	clean, corrupted := pair(2, 3, 8, m.Cfg.DVocab)
	e, err := New(ctx, m, clean, corrupted, patching.LogitDiff{Answer: []int{5}, Wrong: []int{6}, Pos: patching.Last}, Corrupted)
	if err != nil {
		t.Fatal(err)
	}
	scores, err := e.EAP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, last := e.Graph(), m.Cfg.NLayers-1
	checked := 0
	for i, ed := range g.Edges {
		linear := ed.To.Node.Kind == Logits || (ed.To.Node.Kind == Head && ed.To.Node.Layer == last && ed.To.In == V)
		if !linear {
			continue
		}
		keep := g.Full()
		keep[i] = false
		v, err := e.Evaluate(ctx, keep)
		if err != nil {
			t.Fatal(err)
		}
		if exact := v - e.Full(); math.Abs(scores[i]-exact) > 1e-4*(1+math.Abs(exact)) {
			t.Errorf("%s: EAP %g, exact effect %g", g.EdgeName(i), scores[i], exact)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d linear edges checked", checked)
	}
}

// TestEAPFiniteDifferences checks every edge's EAP score, on every
// architecture with a backward pass, against a finite difference: with
// each sender's "ablated" output set to its clean output plus ε times a
// random direction, ablating an edge changes the metric by ε·score + O(ε²).
func TestEAPFiniteDifferences(t *testing.T) {
	ctx := context.Background()
	for name, c := range configs() {
		m := transformertest.Random(t, c, 12)
		clean, corrupted := pair(3, 2, 6, c.DVocab)
		e, err := New(ctx, m, clean, corrupted, patching.LogitDiff{Answer: []int{1}, Wrong: []int{7}, Pos: patching.Last}, Corrupted)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		const eps = 1e-2
		for si := range e.abl {
			for i := range e.abl[si] {
				e.abl[si][i] = e.out[si][i] + float32(eps*rng.NormFloat64())
			}
		}
		scores, err := e.EAP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g := e.Graph()
		worst := 0.0
		for i := range g.Edges {
			keep := g.Full()
			keep[i] = false
			// Central difference: +ε and −ε directions.
			plus, err := e.Evaluate(ctx, keep)
			if err != nil {
				t.Fatal(err)
			}
			flip(e, g.Edges[i].From)
			minus, err := e.Evaluate(ctx, keep)
			if err != nil {
				t.Fatal(err)
			}
			flip(e, g.Edges[i].From)
			fd := (plus - minus) / 2
			worst = max(worst, math.Abs(scores[i]-fd)/(1e-3+math.Abs(fd)))
			if math.Abs(scores[i]-fd) > 2e-2*(1e-3+math.Abs(fd)) {
				t.Errorf("%s %s: EAP %g, central difference %g", name, g.EdgeName(i), scores[i], fd)
			}
		}
		t.Logf("%s: %d edges, worst relative difference %.3g", name, len(g.Edges), worst)
	}
}

// flip mirrors sender s's ablated output about its clean output.
func flip(e *Experiment, s Node) {
	si := e.g.sender[s]
	for i := range e.abl[si] {
		e.abl[si][i] = 2*e.out[si][i] - e.abl[si][i]
	}
}

// TestEAPReusesScratch: an experiment's second attribution reuses the
// workspace and the senders' differences the first laid out — it
// allocates under a quarter of what the first did — and gives the first's
// scores bit for bit, as a fresh experiment does, also after an EAP-IG pass
// in between has run other inputs through the same workspace.
func TestEAPReusesScratch(t *testing.T) {
	ctx := context.Background()
	c := transformer.Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DMLP: 128, DVocab: 500, NCtx: 32, NormalizationType: transformer.NormLN, Seed: 5}
	m := transformertest.Random(t, c, 3)
	clean, corrupted := pair(5, 4, 32, c.DVocab)
	metric := patching.LogitDiff{Answer: []int{1}, Wrong: []int{2}, Pos: patching.Last}
	newExp := func() *Experiment {
		e, err := New(ctx, m, clean, corrupted, metric, Corrupted)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := newExp()
	eap := func(e *Experiment) ([]float64, uint64) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := e.EAP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return s, after.TotalAlloc - before.TotalAlloc
	}
	first, a1 := eap(e)
	if _, err := e.EAPIG(ctx, 3); err != nil {
		t.Fatal(err)
	}
	second, a2 := eap(e)
	fresh, _ := eap(newExp())
	if !slices.Equal(first, second) || !slices.Equal(first, fresh) {
		t.Errorf("EAP's scores change from one call to the next, or from a fresh experiment's")
	}
	if a2*4 > a1 {
		t.Errorf("the second EAP allocated %d bytes, the first %d: the scratch is not reused", a2, a1)
	}
	t.Logf("first EAP allocated %d bytes, the second %d", a1, a2)
}
