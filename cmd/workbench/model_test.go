package main

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// inductionRun trains the quick induction configuration (d_model 32, 2
// attention-only layers of 2 heads, 16 tokens, blocks of 3–6 tokens
// repeated: 12 positions) for 500 steps, about a second, in a temporary run
// folder, and returns the folder and a token file of 8 sequences of the
// task (a block of 6 distinct tokens, twice). By then the model has a
// previous-token head in layer 0 and induction heads in layer 1, so
// behaviour tests of the analyses have a real circuit to find without any
// file from outside the repository.
func inductionRun(t *testing.T) (run, tokens string) {
	t.Helper()
	run = filepath.Join(t.TempDir(), "run")
	if _, _, err := runCLI(t, trainArgs(run, "--steps", "500")...); err != nil {
		t.Fatalf("training the test's induction model: %v", err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	var seqs [][]int
	for range 8 {
		seqs = append(seqs, repeatedBlock(rng, 6, 0, 16))
	}
	return run, writeSeqs(t, seqs)
}
