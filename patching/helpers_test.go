package patching

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
	"github.com/mechinterp/workbench/workers"
)

// configs are tiny models covering the code paths that matter here: with
// and without MLPs (the shortcut of Sweep), with and without LayerNorm (the
// linearity of the logit difference).
func configs() map[string]transformer.Config {
	base := transformer.Config{NLayers: 2, DModel: 16, NHeads: 3, DHead: 4, DVocab: 13, NCtx: 10, Seed: 5}
	v := map[string]transformer.Config{}
	add := func(name string, f func(c *transformer.Config)) {
		c := base
		f(&c)
		v[name] = c
	}
	add("attn_only", func(c *transformer.Config) { c.AttnOnly = true })
	add("ln_gelu", func(c *transformer.Config) { c.DMLP = 24; c.NormalizationType = transformer.NormLN })
	add("mlp_no_ln", func(c *transformer.Config) { c.DMLP = 24; c.ActFn = transformer.ActReLU })
	add("llama", func(c *transformer.Config) { // needs the Llama-family backward pass
		c.DMLP, c.NHeads, c.NKeyValueHeads, c.NormalizationType = 24, 4, 2, transformer.NormRMS
		c.PositionalEmbeddingType, c.RotaryAdjacentPairs, c.GatedMLP, c.ActFn = transformer.PosRotary, true, true, transformer.ActSiLU
	})
	add("neox", func(c *transformer.Config) { // rotate-half on half of each head, parallel attention and MLP
		c.DMLP, c.NormalizationType, c.ParallelAttnMLP = 24, transformer.NormLN, true
		c.PositionalEmbeddingType, c.RotaryDim = transformer.PosRotary, 2
	})
	return v
}

func newModel(t testing.TB, c transformer.Config, seed uint64) *transformer.Model {
	t.Helper()
	return transformertest.Random(t, c, seed)
}

func randTokens(rng *rand.Rand, batch, pos, vocab int) [][]int {
	return transformertest.Tokens(rng, batch, pos, vocab)
}

// pair returns a clean batch and a corrupted copy in which every second
// position (from position 1) holds another token, so that position 0 and
// the even positions agree.
func pair(seed uint64, batch, pos, vocab int) (clean, corrupted [][]int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	clean = randTokens(rng, batch, pos, vocab)
	corrupted = make([][]int, batch)
	for b := range clean {
		corrupted[b] = append([]int(nil), clean[b]...)
		for p := 1; p < pos; p += 2 {
			corrupted[b][p] = (clean[b][p] + 1 + rng.IntN(vocab-1)) % vocab
		}
	}
	return clean, corrupted
}

// naiveSweep is the readable reference for Experiment.Sweep: one full
// forward pass of the corrupted batch per site, with a hook writing the
// clean activation, captured from a full clean run. (Capturing hook_result
// would switch the model to its per-head output projection, which rounds
// differently.)
func naiveSweep(ctx context.Context, m *transformer.Model, clean, corrupted [][]int, metric Metric, sites []Site, nWorkers int) ([]float64, error) {
	capture, cache := hooks.Capture(func(n hooks.Name) bool { return n.Kind() != "attn.hook_result" })
	if _, err := m.Run(ctx, clean, capture); err != nil {
		return nil, err
	}
	out := make([]float64, len(sites))
	err := workers.ForErr(ctx, nWorkers, len(sites), func(ctx context.Context, i int) error {
		s := sites[i]
		src, _ := cache.Get(s.hook())
		logits, err := m.Run(ctx, corrupted, hooks.NewSet().Add(s.hook(), s.replace(src)))
		if err != nil {
			return err
		}
		out[i] = metric.Value(logits)
		return nil
	})
	return out, err
}

// someLogitDiff is a logit difference at the last position between each
// sequence's last token and the next id.
func someLogitDiff(clean [][]int, vocab int) LogitDiff {
	ans := make([]int, len(clean))
	wrong := make([]int, len(clean))
	for b, seq := range clean {
		ans[b] = seq[len(seq)-1]
		wrong[b] = (ans[b] + 1) % vocab
	}
	return LogitDiff{Answer: ans, Wrong: wrong, Pos: Last}
}

// must returns v, panicking (which fails the test with a stack trace) if
// err is not nil.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
