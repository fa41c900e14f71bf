package transformer

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// sampler picks the next token from a row of logits as GenerateOptions
// say, reusing its buffers from call to call. It belongs to one goroutine.
type sampler struct {
	temperature float64
	topK        int
	topP        float64
	order       []int32   // candidate ids, most likely first
	probs       []float64 // their unnormalised probabilities, in order
}

func newSampler(vocab int, opts GenerateOptions) *sampler {
	s := &sampler{temperature: opts.Temperature, topK: opts.TopK, topP: opts.TopP}
	if s.temperature > 0 {
		s.order = make([]int32, vocab)
		s.probs = make([]float64, vocab)
	}
	return s
}

// next returns the id drawn from logits [d_vocab_out]; greedy decoding
// (temperature 0) reads no randomness.
func (s *sampler) next(logits []float32, rng *rand.Rand) int {
	if s.temperature == 0 {
		return argmax(logits)
	}
	n, kept := s.candidates(logits)
	u := rng.Float64() * kept
	for i, p := range s.probs[:n] {
		if u -= p; u < 0 {
			return int(s.order[i])
		}
	}
	return int(s.order[n-1]) // u ≈ kept: rounding
}

// candidates filters logits by temperature, top-k and top-p, leaving the n
// kept ids in s.order[:n] (most likely first, ties to the lowest id) with
// their unnormalised probabilities exp((logit − max)/temperature) in
// s.probs[:n], and returns n and their sum.
func (s *sampler) candidates(logits []float32) (n int, sum float64) {
	order := s.order[:len(logits)]
	for j := range order {
		order[j] = int32(j)
	}
	if s.topK > 0 || (s.topP > 0 && s.topP < 1) {
		// Most likely first, ties to the lowest id: a total order, so the
		// result does not depend on the sort's stability.
		slices.SortFunc(order, func(a, b int32) int {
			if c := cmp.Compare(logits[b], logits[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
	}
	if s.topK > 0 && s.topK < len(order) {
		order = order[:s.topK]
	}
	mx := float64(logits[argmax(logits)])
	for i, id := range order {
		p := math.Exp((float64(logits[id]) - mx) / s.temperature)
		s.probs[i] = p
		sum += p
	}
	if s.topP > 0 && s.topP < 1 {
		// The smallest prefix whose mass reaches topP of the total.
		var cum float64
		for i, p := range s.probs[:len(order)] {
			cum += p
			if cum >= s.topP*sum {
				order = order[:i+1]
				sum = cum
				break
			}
		}
	}
	return len(order), sum
}

// argmax returns the index of the largest value, the lowest on ties.
func argmax(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}
