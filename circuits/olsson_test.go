package circuits

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

func TestRepeatedTokens(t *testing.T) {
	const seed = 5
	rng := rand.New(rand.NewPCG(seed, seed))
	prefix := []int{0}
	seqs, err := RepeatedTokens(rng, 6, 25, 4, 30, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		if len(s) != 101 || s[0] != 0 {
			t.Fatalf("seed %d: sequence %d has %d tokens starting %d, want 101 starting with BOS 0", seed, i, len(s), s[0])
		}
		block := s[1:26]
		for r := range 4 {
			if !slices.Equal(s[1+25*r:26+25*r], block) {
				t.Errorf("seed %d: sequence %d repeat %d differs from the first", seed, i, r)
			}
		}
		seen := map[int]bool{}
		for _, tok := range block {
			if tok <= 0 || tok >= 30 || seen[tok] {
				t.Errorf("seed %d: sequence %d: token %d is the prefix's, out of range or repeated", seed, i, tok)
			}
			seen[tok] = true
		}
	}
	if _, err := RepeatedTokens(rng, 1, 30, 4, 30, prefix); err == nil {
		t.Error("30 distinct tokens from 29 accepted")
	}
	if _, err := RepeatedTokens(rng, 0, 3, 4, 30, nil); err == nil {
		t.Error("0 sequences accepted")
	}

	// OlssonTokens shrinks the block to fit n_ctx 7: (7 − 1)/4 = 1 < 3.
	m := tinyModel(t, 5)
	if _, err := OlssonTokens(rng, m, 2, []int{0}); err == nil {
		t.Error("blocks of 1 token accepted")
	}
}

func TestPrefixMatching(t *testing.T) {
	// Tokens 7 8 9 7 8 9 7: positions 3..6 have earlier occurrences; the
	// induction targets of position 6 (token 7) are positions 1 and 4.
	toks := []int{7, 8, 9, 7, 8, 9, 7}
	const T = 7
	induction := make([]float32, T*T) // attends to its last target, else to itself
	uniform := make([]float32, T*T)
	for i := range T {
		target := i
		for j := 1; j <= i; j++ {
			if toks[j-1] == toks[i] {
				target = j
			}
		}
		induction[i*T+target] = 1
		for j := 0; j <= i; j++ {
			uniform[i*T+j] = 1 / float32(i+1)
		}
	}
	p := &Patterns{tokens: [][]int{toks}, nLayers: 1, nHeads: 2, pat: [][][]float32{{append(induction, uniform...)}}}
	got, err := p.PrefixMatching()
	if err != nil {
		t.Fatal(err)
	}
	// Uniform: rows 3, 4, 5 have one target of i+1 positions, row 6 two of 7.
	wantUniform := (1.0/4 + 1.0/5 + 1.0/6 + 2.0/7) / 4
	if math.Abs(got[0][0]-1) > detectTol || math.Abs(got[0][1]-wantUniform) > 1e-7 {
		t.Errorf("prefix matching: induction head %v (want 1), uniform head %v (want %v)", got[0][0], got[0][1], wantUniform)
	}
	p.tokens = [][]int{{1, 2, 3, 4, 5, 6, 7}}
	if _, err := p.PrefixMatching(); err == nil {
		t.Error("no repeats: no error")
	}
}

// copyModel returns a one-layer, one-head attention-only model whose head
// copies: W_E, W_V, W_O and W_U are identities (d_model = d_head = d_vocab
// = 6) and W_pos is zero; sign −1 makes it anti-copy.
func copyModel(t *testing.T, sign float32) *transformer.Model {
	t.Helper()
	const d = 6
	m, err := transformer.New(transformer.Config{NLayers: 1, DModel: d, NHeads: 1, DHead: d, DVocab: d, NCtx: 8, AttnOnly: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := m.P
	clear(p.WPos)
	b := &p.Blocks[0]
	for _, w := range [][]float32{p.WE, b.WV, b.WO, p.WU} {
		clear(w)
		for i := range d {
			w[i*d+i] = 1
		}
	}
	for i := range b.WO {
		b.WO[i] *= sign
	}
	return m
}

func TestCopyingScores(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	seqs, err := RepeatedTokens(rng, 4, 3, 2, 6, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sign float32
		want float64
	}{{1, 1}, {-1, 0}} {
		got, err := CopyingScores(context.Background(), copyModel(t, c.sign), seqs, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got[0][0] != c.want {
			t.Errorf("W_O = %v·I: copying score %v, want %v", c.sign, got[0][0], c.want)
		}
	}
	if _, err := CopyingScores(context.Background(), copyModel(t, 1), seqs, 7); err == nil {
		t.Error("skipping every position: no error")
	}
}
