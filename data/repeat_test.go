package data

import (
	"math/rand/v2"
	"testing"
)

// TestInductionPredictableMatchesWeights fills batches of the induction
// task (distinct tokens, with and without BOS, variable and fixed repeat
// lengths) and checks that the positions recovered from the tokens alone
// are exactly those the task weights.
func TestInductionPredictableMatchesWeights(t *testing.T) {
	for _, c := range []Induction{
		{Vocab: 64, L: 20, MinRepeat: 10, Distinct: true, BOS: true},
		{Vocab: 64, L: 20, MinRepeat: 2, Distinct: true},
		{Vocab: 16, L: 6, MinRepeat: 3, Distinct: true},
	} {
		for seed := uint64(1); seed <= 20; seed++ {
			rng := rand.New(rand.NewPCG(seed, seed))
			b := NewBatch(8, c.SeqLen())
			if seed%2 == 0 {
				c.FillFixed(b, rng)
			} else {
				c.Fill(b, rng)
			}
			for s := range b.N {
				toks := make([]int, b.SeqLen)
				for i := range toks {
					toks[i] = int(b.Tokens[s*b.SeqLen+i])
				}
				from, to, ok := InductionPredictable(toks)
				for i := range b.SeqLen {
					got := ok && i >= from && i <= to
					if want := b.Weights[s*b.SeqLen+i] == 1; got != want {
						t.Fatalf("%+v seed %d sequence %d %v: position %d predictable %t, the task weights it %t (range %d..%d, %t)",
							c, seed, s, toks, i, got, want, from, to, ok)
					}
				}
			}
		}
	}
}

func TestInductionPredictableInputs(t *testing.T) {
	for _, tt := range []struct {
		toks     []int
		from, to int
		ok       bool
	}{
		{[]int{1, 2, 3, 1, 2, 3}, 3, 4, true},
		{[]int{0, 9, 8, 5, 6, 7, 5, 6, 7}, 6, 7, true},
		{[]int{10, 20, 30, 40, 50, 10, 20}, 0, 0, false}, // a repeat that does not reach the end of its block
		{[]int{1, 2, 3, 4}, 0, 0, false},
		{[]int{7, 7}, 0, 0, false}, // a block of one token: nothing to predict
		{[]int{}, 0, 0, false},
		{[]int{4, 4, 4, 4}, 2, 2, true},
	} {
		from, to, ok := InductionPredictable(tt.toks)
		if from != tt.from || to != tt.to || ok != tt.ok {
			t.Errorf("InductionPredictable(%v) = %d, %d, %t; want %d, %d, %t", tt.toks, from, to, ok, tt.from, tt.to, tt.ok)
		}
	}
}
