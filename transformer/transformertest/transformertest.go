// Package transformertest provides what tests of transformer-based packages
// share: tiny configurations that cover every architectural code path,
// models with every parameter random, random token batches, and the path of
// the PyTorch parity fixtures. It is for tests only.
package transformertest

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
)

// Variants returns tiny configurations, by name, that together cover every
// architectural path: attention-only, MLPs with and without LayerNorm, LN,
// LNPre, RMS, RMSPre, every activation, tied embeddings, shortformer
// positions and d_vocab_out < d_vocab.
func Variants() map[string]transformer.Config {
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

// Random returns a model of config c whose every parameter, biases and
// gains included, is normal(0, 0.3) from seed, so that every code path
// changes the result.
func Random(t testing.TB, c transformer.Config, seed uint64) *transformer.Model {
	t.Helper()
	m, err := transformer.New(c)
	if err != nil {
		t.Fatal(err)
	}
	Randomize(m, seed)
	return m
}

// Randomize overwrites every parameter of m with normal(0, 0.3) values.
func Randomize(m *transformer.Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range m.P.Data() {
		m.P.Data()[i] = float32(rng.NormFloat64() * 0.3)
	}
}

// Tokens returns batch random sequences of pos tokens in [0, vocab).
func Tokens(rng *rand.Rand, batch, pos, vocab int) [][]int {
	t := make([][]int, batch)
	for b := range t {
		t[b] = make([]int, pos)
		for p := range t[b] {
			t[b][p] = rng.IntN(vocab)
		}
	}
	return t
}

// TokenVocab is the range to draw tokens from when they are also targets:
// [0, min(d_vocab, d_vocab_out)).
func TokenVocab(c transformer.Config) int {
	c = c.WithDefaults()
	return min(c.DVocab, c.DVocabOut)
}

// ParityDir returns the directory of the shared PyTorch parity fixtures,
// ../shared/testdata/parity beside the repository. It is testenv.Dir:
// when they are absent the test is skipped with a message, or fails if
// CI=true.
func ParityDir(t testing.TB) string {
	t.Helper()
	return testenv.ParityDir(t)
}

// ReadJSON decodes the JSON file at path into v, failing the test on any
// error (a fixture that is missing or malformed).
func ReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Ungrouped returns a model that computes what m computes with one key and
// value head per query head: m's grouped-query attention (n_key_value_heads
// < n_heads) written out as ordinary multi-head attention, each query
// head's W_K, b_K, W_V and b_V copied from its group's. It is built here,
// not by the transformer package, so that analyses of a grouped model can
// be checked against the same analyses of an ordinary one.
func Ungrouped(t testing.TB, m *transformer.Model) *transformer.Model {
	t.Helper()
	c := m.Cfg
	H, Hkv, dh, d := c.NHeads, c.NKeyValueHeads, c.DHead, c.DModel
	if Hkv <= 0 || Hkv >= H {
		t.Fatalf("transformertest: Ungrouped wants a grouped model, got %d query and %d key/value heads", H, Hkv)
	}
	group := H / Hkv
	c.NKeyValueHeads = H
	u, err := transformer.New(c)
	if err != nil {
		t.Fatal(err)
	}
	cp := func(dst, src []float32) {
		if len(dst) != len(src) {
			t.Fatalf("transformertest: Ungrouped: parameter of %d values where %d were expected", len(src), len(dst))
		}
		copy(dst, src)
	}
	cp(u.P.WE, m.P.WE)
	cp(u.P.WPos, m.P.WPos)
	cp(u.P.LNFinalW, m.P.LNFinalW)
	cp(u.P.LNFinalB, m.P.LNFinalB)
	cp(u.P.WU, m.P.WU)
	cp(u.P.BU, m.P.BU)
	for l := range m.P.Blocks {
		a, b := &m.P.Blocks[l], &u.P.Blocks[l]
		for _, p := range [][2][]float32{{b.LN1W, a.LN1W}, {b.LN1B, a.LN1B}, {b.WQ, a.WQ}, {b.BQ, a.BQ}, {b.WO, a.WO}, {b.BO, a.BO},
			{b.LN2W, a.LN2W}, {b.LN2B, a.LN2B}, {b.WIn, a.WIn}, {b.BIn, a.BIn}, {b.WGate, a.WGate}, {b.WOut, a.WOut}, {b.BOut, a.BOut}} {
			cp(p[0], p[1])
		}
		// W [d_model, heads·d_head]: query head h's columns from key/value head h/group.
		for _, p := range [][2][]float32{{b.WK, a.WK}, {b.WV, a.WV}} {
			for r := range d {
				for h := range H {
					copy(p[0][(r*H+h)*dh:][:dh], p[1][(r*Hkv+h/group)*dh:][:dh])
				}
			}
		}
		for _, p := range [][2][]float32{{b.BK, a.BK}, {b.BV, a.BV}} {
			if p[1] == nil {
				continue
			}
			for h := range H {
				copy(p[0][h*dh:][:dh], p[1][(h/group)*dh:][:dh])
			}
		}
	}
	return u
}
