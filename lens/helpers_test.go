package lens

import (
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

// variants covers every architectural path of the decoder and the
// decomposition on tiny sizes.
func variants() map[string]transformer.Config {
	base := transformer.Config{NLayers: 2, DModel: 12, NHeads: 3, DHead: 4, DVocab: 11, NCtx: 9, Seed: 3}
	v := map[string]transformer.Config{}
	add := func(name string, f func(c *transformer.Config)) {
		c := base
		f(&c)
		v[name] = c
	}
	add("attn_only", func(c *transformer.Config) { c.AttnOnly = true })
	add("none_gelu", func(c *transformer.Config) { c.DMLP = 20 })
	add("ln_gelu", func(c *transformer.Config) { c.DMLP = 20; c.NormalizationType = transformer.NormLN })
	add("lnpre_gelu_new", func(c *transformer.Config) {
		c.DMLP = 20
		c.NormalizationType = transformer.NormLNPre
		c.ActFn = transformer.ActGELUNew
	})
	add("rms_relu", func(c *transformer.Config) {
		c.DMLP = 20
		c.NormalizationType = transformer.NormRMS
		c.ActFn = transformer.ActReLU
	})
	add("rmspre_tied", func(c *transformer.Config) {
		c.DMLP = 20
		c.NormalizationType = transformer.NormRMSPre
		c.TiedEmbeddings = true
	})
	add("shortformer_ln", func(c *transformer.Config) {
		c.DMLP = 20
		c.NormalizationType = transformer.NormLN
		c.PositionalEmbeddingType = transformer.PosShortformer
	})
	add("vocab_out", func(c *transformer.Config) { c.AttnOnly = true; c.DVocabOut = 7 })
	return v
}

// newModel returns a model of config c whose every parameter, biases and
// gains included, is random, so that every code path changes the result.
func newModel(t testing.TB, c transformer.Config, seed uint64) *transformer.Model {
	t.Helper()
	m, err := transformer.New(c)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range m.P.Data() {
		m.P.Data()[i] = float32(rng.NormFloat64() * 0.3)
	}
	return m
}

// randTokens returns batch random sequences of pos tokens in [0, vocab).
func randTokens(rng *rand.Rand, batch, pos, vocab int) [][]int {
	t := make([][]int, batch)
	for b := range t {
		t[b] = make([]int, pos)
		for p := range t[b] {
			t[b][p] = rng.IntN(vocab)
		}
	}
	return t
}

// tokenVocab is the range tests draw tokens from: targets must also be
// valid outputs.
func tokenVocab(m *transformer.Model) int { return min(m.Cfg.DVocab, m.Cfg.DVocabOut) }
