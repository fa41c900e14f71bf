package lens

import (
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// variants, newModel and randTokens are the shared test support of
// transformertest under this package's names.
func variants() map[string]transformer.Config { return transformertest.Variants() }

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
