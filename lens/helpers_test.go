package lens

import (
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// variants are transformertest's configurations and two of real-model
// families: Llama's (RMSNorm, rotary, grouped-query attention, SwiGLU) and
// Pythia's (partial rotary, parallel attention and MLP: no resid_mid).
// newModel and randTokens are the shared test support of transformertest
// under this package's names.
func variants() map[string]transformer.Config {
	v := transformertest.Variants()
	base := transformer.Config{NLayers: 2, DModel: 12, NHeads: 4, DHead: 3, DMLP: 20, DVocab: 11, NCtx: 9, Seed: 3,
		PositionalEmbeddingType: transformer.PosRotary}
	llama, pythia := base, base
	llama.NormalizationType, llama.NKeyValueHeads, llama.GatedMLP, llama.ActFn = transformer.NormRMS, 2, true, transformer.ActSiLU
	llama.DHead = 4
	pythia.NormalizationType, pythia.RotaryDim, pythia.ParallelAttnMLP = transformer.NormLN, 2, true
	v["llama_like"], v["pythia_like"] = llama, pythia
	return v
}

func newModel(t testing.TB, c transformer.Config, seed uint64) *transformer.Model {
	t.Helper()
	return transformertest.Random(t, c, seed)
}

func randTokens(rng *rand.Rand, batch, pos, vocab int) [][]int {
	return transformertest.Tokens(rng, batch, pos, vocab)
}

// tokenVocab is the range tests draw tokens from: targets must also be
// valid outputs.
func tokenVocab(m *transformer.Model) int { return min(m.Cfg.DVocab, m.Cfg.DVocabOut) }
