package main

import (
	"math"
	"math/rand/v2"
)

// Minimising cross-entropy is maximum likelihood: for a sample x₁…x_n with
// empirical frequencies p̂, the log-likelihood of a model q is
// Σ log₂ q(xᵢ) = n·Σ_k p̂_k log₂ q_k = −n·CE(p̂, q), so the q with the smallest
// cross-entropy against the data is the q with the largest likelihood, and
// since CE(p̂, q) = H(p̂) + KL(p̂‖q) the minimum is at q = p̂.

// empirical draws n samples from p and returns them with their frequencies.
func empirical(rng *rand.Rand, p []float64, n int) (xs []int, freq []float64) {
	s := newSampler(p)
	xs = make([]int, n)
	freq = make([]float64, len(p))
	for i := range xs {
		xs[i] = s.draw(rng)
		freq[xs[i]] += 1 / float64(n)
	}
	return xs, freq
}

// avgLogLikelihood returns (1/n)Σ log₂ q(xᵢ), computed sample by sample.
func avgLogLikelihood(xs []int, q []float64) float64 {
	var s float64
	for _, x := range xs {
		s += math.Log2(q[x])
	}
	return s / float64(len(xs))
}

// softmax writes softmax(logits) into dst.
func softmax(dst, logits []float64) {
	m := math.Inf(-1)
	for _, z := range logits {
		m = math.Max(m, z)
	}
	var sum float64
	for i, z := range logits {
		dst[i] = math.Exp(z - m)
		sum += dst[i]
	}
	for i := range dst {
		dst[i] /= sum
	}
}

// fitStep is one logged point of the gradient-descent fit.
type fitStep struct {
	Step   int     `json:"step"`
	CE     float64 `json:"cross_entropy_bits"` // CE(p̂, q_θ), the training loss
	KL     float64 `json:"kl_bits"`            // KL(p̂‖q_θ) = CE − H(p̂)
	MaxGap float64 `json:"max_abs_q_minus_freq"`
}

// region: fit
// fitCategorical fits q_θ = softmax(θ), θ starting at 0 (the uniform
// distribution), to the frequencies freq by plain gradient descent on
// CE(p̂, q_θ) in nats, whose gradient with respect to θ is q_θ − p̂.
// It returns the fitted q and the loss logged at the given steps.
func fitCategorical(freq []float64, lr float64, steps int, logAt []int) (q []float64, log []fitStep) {
	theta := make([]float64, len(freq))
	q = make([]float64, len(freq))
	j := 0
	for s := 0; s <= steps; s++ {
		softmax(q, theta)
		if j < len(logAt) && logAt[j] == s {
			log = append(log, fitStep{Step: s, CE: crossEntropy(freq, q), KL: kl(freq, q), MaxGap: maxAbsDiff(q, freq)})
			j++
		}
		if s == steps {
			break
		}
		for i := range theta {
			theta[i] -= lr * (q[i] - freq[i])
		}
	}
	return q, log
}

// endregion

// plugInBias measures, for each sample size n, the mean over reps samples of
// H(p) − H(p̂) (how far the in-sample cross-entropy of the maximum-likelihood
// fit, H(p̂), sits below the truth) and of KL(p̂‖p), both in bits.
// Asymptotically both are (k−1)/(2n ln 2) bits (Miller 1955).
func plugInBias(rng *rand.Rand, p []float64, ns []int, reps int) (gap, klHat []float64) {
	h := entropy(p)
	gap = make([]float64, len(ns))
	klHat = make([]float64, len(ns))
	for j, n := range ns {
		for range reps {
			_, f := empirical(rng, p, n)
			gap[j] += (h - entropy(f)) / float64(reps)
			klHat[j] += kl(f, p) / float64(reps)
		}
	}
	return gap, klHat
}

// maxAbsDiff returns max_i |a_i − b_i|.
func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}
