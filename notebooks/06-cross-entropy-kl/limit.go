package main

import (
	"math"
	"math/rand/v2"
)

// The limit argument: for x₁, x₂, … drawn independently from p, the average
// log-loss of a model q, −(1/n)Σ log₂ q(xᵢ), is a mean of independent copies
// of −log₂ q(x), whose expectation is CE(p, q). By the law of large numbers it
// converges to CE(p, q), and by the central limit theorem its error shrinks
// like σ/√n with σ² = Var_p[log₂ q(x)].

// logLossStd returns σ = the standard deviation of −log₂ q(x) for x ~ p.
func logLossStd(p, q []float64) float64 {
	ce := crossEntropy(p, q)
	var v float64
	for i, pi := range p {
		d := -math.Log2(q[i]) - ce
		v += pi * d * d
	}
	return math.Sqrt(v)
}

// region: running
// runningLogLoss draws n samples from p and returns the running average
// log-loss of each model in qs, recorded at the sample counts in at
// (ascending, each ≤ n): avg[m][j] is model m's average after at[j] samples.
func runningLogLoss(rng *rand.Rand, p []float64, qs [][]float64, n int, at []int) [][]float64 {
	s := newSampler(p)
	sums := make([]float64, len(qs))
	avg := make([][]float64, len(qs))
	for m := range avg {
		avg[m] = make([]float64, 0, len(at))
	}
	j := 0
	for i := 1; i <= n && j < len(at); i++ {
		x := s.draw(rng)
		for m, q := range qs {
			sums[m] -= math.Log2(q[x])
		}
		for j < len(at) && at[j] == i {
			for m := range qs {
				avg[m] = append(avg[m], sums[m]/float64(i))
			}
			j++
		}
	}
	return avg
}

// endregion

// logSpaced returns about perDecade sample counts per decade from 1 to n,
// distinct and ascending, ending at n.
func logSpaced(n, perDecade int) []int {
	var at []int
	for e := 0.0; ; e += 1 / float64(perDecade) {
		v := int(math.Round(math.Pow(10, e)))
		if v >= n {
			break
		}
		if len(at) == 0 || v > at[len(at)-1] {
			at = append(at, v)
		}
	}
	return append(at, n)
}

// rmsError runs reps independent streams of n samples and returns, at each
// count in at, the root-mean-square error of the average log-loss of q about
// CE(p, q).
func rmsError(rng *rand.Rand, p, q []float64, n, reps int, at []int) []float64 {
	ce := crossEntropy(p, q)
	sq := make([]float64, len(at))
	for range reps {
		avg := runningLogLoss(rng, p, [][]float64{q}, n, at)[0]
		for j, a := range avg {
			sq[j] += (a - ce) * (a - ce)
		}
	}
	for j := range sq {
		sq[j] = math.Sqrt(sq[j] / float64(reps))
	}
	return sq
}

// logLogSlope fits log y = a + b·log x by least squares over the points with
// x ≥ from and returns b.
func logLogSlope(x []int, y []float64, from int) float64 {
	var n, sx, sy, sxx, sxy float64
	for i := range x {
		if x[i] < from || y[i] <= 0 {
			continue
		}
		lx, ly := math.Log(float64(x[i])), math.Log(y[i])
		n++
		sx += lx
		sy += ly
		sxx += lx * lx
		sxy += lx * ly
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}
