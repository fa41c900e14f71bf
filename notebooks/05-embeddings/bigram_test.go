package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestChain(t *testing.T) {
	const seed = 2
	rng := rand.New(rand.NewPCG(seed, seed))
	ch := newChain(rng, 10, 0.7, 1)
	if got := len(cycleOrder(ch.Next)); got != 10 {
		t.Errorf("seed %d: σ's cycle through token 0 has %d tokens, want all 10", seed, got)
	}
	for a, row := range ch.P {
		var sum float64
		for _, p := range row {
			sum += p
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("row %d sums to %v", a, sum)
		}
		if ch.Next[ch.Next[a]] == a {
			t.Errorf("σ has a 2-cycle at %d", a)
		}
	}
	// The pair weights are a distribution, and the true table's expected
	// loss is the entropy rate.
	w := ch.pairWeights(8)
	var total float64
	for _, row := range w {
		for _, v := range row {
			total += v
		}
	}
	if math.Abs(total-1) > 1e-12 {
		t.Errorf("pair weights sum to %v", total)
	}
	if got, want := tableLoss(w, ch.logP), ch.entropyRate(8); math.Abs(got-want) > 1e-12 {
		t.Errorf("true table's loss %v, entropy rate %v", got, want)
	}
}

func TestBestSymmetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	ch := newChain(rng, 8, 0.7, 1)
	w := ch.pairWeights(8)
	loss, L := bestSymmetric(w, 2000, 5)
	// The fit's interaction is symmetric and its loss lies between the
	// entropy rate and the loss of the uniform table, ln V.
	if a := maxAsymmetry(doubleCentre(L)); a > 1e-9 {
		t.Errorf("symmetric fit has asymmetric interaction: %g", a)
	}
	if h := ch.entropyRate(8); loss < h || loss > math.Log(8) {
		t.Errorf("symmetric loss %v outside [H = %v, ln 8]", loss, h)
	}
}

func TestAntisymmetricShare(t *testing.T) {
	for _, tc := range []struct {
		M    [][]float64
		want float64
	}{
		{[][]float64{{1, 2}, {2, 1}}, 0},
		{[][]float64{{0, 1}, {-1, 0}}, 1},
		{[][]float64{{0, 1}, {0, 0}}, 0.5},
	} {
		if got := antisymmetricShare(tc.M); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("antisymmetricShare(%v) = %v, want %v", tc.M, got, tc.want)
		}
	}
}
