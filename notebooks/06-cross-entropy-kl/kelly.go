package main

import (
	"math"
	"math/rand/v2"
)

// The gambling intuition (Kelly 1956; Cover & Thomas, Elements of Information
// Theory, ch. 6). A horse race has k horses; horse i wins with probability
// p_i. The bookmaker believes q and pays fair odds for that belief: a unit bet
// on horse i returns 1/q_i. A gambler who believes b splits all her wealth
// in proportion to b, so when horse x wins her wealth is multiplied by
// b_x/q_x. After N races log₂ wealth is Σ log₂(b_x/q_x), whose mean per race
// (the doubling rate) is
//
//	W(b) = E_p[log₂ b_x − log₂ q_x] = CE(p, q) − CE(p, b).
//
// The doubling rate is a constant minus the gambler's cross-entropy: every
// bit of cross-entropy she sheds doubles her wealth once more per race. It
// is largest at b = p (Kelly betting), where it equals KL(p‖q).

// bettor is one gambler's belief.
type bettor struct {
	Name   string
	Belief []float64
}

// doublingRate returns CE(p, q) − CE(p, b), the predicted log₂ growth of
// wealth per race.
func doublingRate(p, q, b []float64) float64 {
	return crossEntropy(p, q) - crossEntropy(p, b)
}

// region: race
// race runs n races drawn from p against a bookmaker with belief q and
// returns each bettor's log₂ wealth after every race in at (wealth starts at
// 1, log₂ wealth 0). All bettors see the same races.
func race(rng *rand.Rand, p, q []float64, bs []bettor, n int, at []int) [][]float64 {
	s := newSampler(p)
	logW := make([]float64, len(bs))
	out := make([][]float64, len(bs))
	j := 0
	for i := 1; i <= n && j < len(at); i++ {
		x := s.draw(rng)
		for m, b := range bs {
			logW[m] += math.Log2(b.Belief[x] / q[x])
		}
		if at[j] == i {
			for m := range bs {
				out[m] = append(out[m], logW[m])
			}
			j++
		}
	}
	return out
}

// endregion

// mix returns (1−t)·a + t·b.
func mix(a, b []float64, t float64) []float64 {
	c := make([]float64, len(a))
	for i := range a {
		c[i] = (1-t)*a[i] + t*b[i]
	}
	return c
}

// sharpen returns p^γ renormalised: γ > 1 is an overconfident gambler, γ < 1
// a timid one.
func sharpen(p []float64, gamma float64) []float64 {
	c := make([]float64, len(p))
	var sum float64
	for i, pi := range p {
		c[i] = math.Pow(pi, gamma)
		sum += c[i]
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}
