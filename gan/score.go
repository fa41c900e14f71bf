package gan

import (
	"fmt"
	"math"

	"github.com/mechinterp/workbench/tensor"
)

// InceptionScore returns the Inception-style score (Salimans et al. 2016)
// of n class-probability rows probs [n, k]:
//
//	IS = exp(E_x KL(p(y|x) ‖ p(y))),  p(y) = E_x p(y|x)
//
// computed on each of splits equal parts of the rows (the last one takes
// the remainder) and reported as the mean and standard deviation over the
// parts, as the reference implementation does with 10 splits. It lies in
// [1, k]: 1 when every sample gets the same prediction, k when predictions
// are confident and spread evenly over the classes. It returns an error if
// probs does not hold n·k values, n < splits or splits < 1.
func InceptionScore(probs []float32, n, k, splits int) (mean, std float64, err error) {
	if k < 1 || splits < 1 || n < splits || len(probs) != n*k {
		return 0, 0, fmt.Errorf("gan: inception score: %d probabilities for %d rows of %d classes in %d splits", len(probs), n, k, splits)
	}
	scores := make([]float64, splits)
	marg := make([]float64, k)
	for s := range splits {
		lo, hi := s*(n/splits), (s+1)*(n/splits)
		if s == splits-1 {
			hi = n
		}
		clear(marg)
		for i := lo; i < hi; i++ {
			for j, p := range probs[i*k : (i+1)*k] {
				marg[j] += float64(p)
			}
		}
		for j := range marg {
			marg[j] /= float64(hi - lo)
		}
		var kl float64
		for i := lo; i < hi; i++ {
			for j, p := range probs[i*k : (i+1)*k] {
				if p > 0 {
					kl += float64(p) * (math.Log(float64(p)) - math.Log(marg[j]))
				}
			}
		}
		scores[s] = math.Exp(kl / float64(hi-lo))
	}
	for _, s := range scores {
		mean += s
	}
	mean /= float64(splits)
	for _, s := range scores {
		std += (s - mean) * (s - mean)
	}
	return mean, math.Sqrt(std / float64(splits)), nil
}

// ClassCounts returns how many of the n rows of probs [n, k] have each
// class as their (first) largest entry.
func ClassCounts(probs []float32, n, k int) []int {
	if len(probs) < n*k {
		panic(tensor.ShapeError{Op: "gan.ClassCounts", Msg: fmt.Sprintf("%d probabilities for %d rows of %d", len(probs), n, k)})
	}
	counts := make([]int, k)
	for i := range n {
		counts[argmax(probs[i*k:(i+1)*k])]++
	}
	return counts
}

// Coverage returns the fraction of classes that have at least one sample
// in counts.
func Coverage(counts []int) float64 {
	c := 0
	for _, v := range counts {
		if v > 0 {
			c++
		}
	}
	return float64(c) / float64(max(len(counts), 1))
}

func argmax(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}
