package data

import (
	"math/rand/v2"
	"testing"
)

// TestBatchRows checks that Rows gives each sequence's tokens as the API's
// [][]int, equal to Seq's int32 view, in new memory.
func TestBatchRows(t *testing.T) {
	b := NewBatch(3, 5)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range b.Tokens {
		b.Tokens[i] = rng.Int32N(1000)
	}
	rows := b.Rows()
	if len(rows) != b.N {
		t.Fatalf("Rows has %d sequences, want %d", len(rows), b.N)
	}
	for i, row := range rows {
		tok, _, _ := b.Seq(i)
		if len(row) != len(tok) {
			t.Fatalf("sequence %d has %d tokens, want %d", i, len(row), len(tok))
		}
		for p := range row {
			if row[p] != int(tok[p]) {
				t.Errorf("Rows()[%d][%d] = %d, want %d", i, p, row[p], tok[p])
			}
		}
	}
	rows[0][0]++
	if int(b.Tokens[0]) == rows[0][0] {
		t.Error("Rows aliases the batch's tokens")
	}
}
