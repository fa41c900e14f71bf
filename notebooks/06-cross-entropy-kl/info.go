package main

import (
	"math"
	"math/rand/v2"
)

// Everything in this notebook is measured in bits (log base 2): a bit of
// cross-entropy is a factor of two in likelihood, and in the betting section
// a doubling of wealth. Multiply by ln 2 for the nats a training loss reports.

// region: definitions
// entropy returns H(p) = −Σ p_i log₂ p_i, with 0·log 0 = 0.
func entropy(p []float64) float64 {
	var h float64
	for _, pi := range p {
		if pi > 0 {
			h -= pi * math.Log2(pi)
		}
	}
	return h
}

// crossEntropy returns CE(p, q) = −Σ p_i log₂ q_i: the mean code length, in
// bits, of symbols drawn from p and coded with a code built for q. It is +Inf
// when q_i = 0 for some p_i > 0.
func crossEntropy(p, q []float64) float64 {
	var ce float64
	for i, pi := range p {
		if pi > 0 {
			ce -= pi * math.Log2(q[i])
		}
	}
	return ce
}

// kl returns KL(p‖q) = Σ p_i log₂(p_i/q_i), computed directly from the ratio
// (not as CE − H), so that the identity CE = H + KL is a real check.
func kl(p, q []float64) float64 {
	var d float64
	for i, pi := range p {
		if pi > 0 {
			d += pi * math.Log2(pi/q[i])
		}
	}
	return d
}

// endregion

// randomDist returns a random distribution over k outcomes: the softmax of
// Gaussian logits with standard deviation spread (0 gives the uniform
// distribution; large spreads give peaked ones).
func randomDist(rng *rand.Rand, k int, spread float64) []float64 {
	p := make([]float64, k)
	var sum float64
	for i := range p {
		p[i] = math.Exp(spread * rng.NormFloat64())
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// uniform returns the uniform distribution over k outcomes.
func uniform(k int) []float64 {
	p := make([]float64, k)
	for i := range p {
		p[i] = 1 / float64(k)
	}
	return p
}

// sampler draws outcomes from a fixed distribution by inverting its
// cumulative distribution function.
type sampler struct{ cdf []float64 }

func newSampler(p []float64) sampler {
	cdf := make([]float64, len(p))
	var c float64
	for i, pi := range p {
		c += pi
		cdf[i] = c
	}
	cdf[len(cdf)-1] = math.Inf(1) // rounding never runs off the end
	return sampler{cdf}
}

func (s sampler) draw(rng *rand.Rand) int {
	u := rng.Float64()
	lo, hi := 0, len(s.cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if u < s.cdf[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// identityRow is one line of the CE = H + KL table.
type identityRow struct {
	K        int     `json:"k"`
	H        float64 `json:"entropy_bits"`
	KL       float64 `json:"kl_bits"`
	KLRev    float64 `json:"kl_reverse_bits"`
	CE       float64 `json:"cross_entropy_bits"`
	Residual float64 `json:"residual"` // CE − H − KL
}

// identityCheck draws n random pairs (p, q) with k from ks in turn and returns
// the table rows of the first len(ks) pairs and the largest |CE − H − KL| over
// all n pairs.
func identityCheck(rng *rand.Rand, ks []int, n int) (rows []identityRow, maxResidual float64) {
	for i := range n {
		k := ks[i%len(ks)]
		p := randomDist(rng, k, 1+rng.Float64())
		q := randomDist(rng, k, 1+rng.Float64())
		r := identityRow{K: k, H: entropy(p), KL: kl(p, q), KLRev: kl(q, p), CE: crossEntropy(p, q)}
		r.Residual = r.CE - r.H - r.KL
		maxResidual = math.Max(maxResidual, math.Abs(r.Residual))
		if i < len(ks) {
			rows = append(rows, r)
		}
	}
	return rows, maxResidual
}
