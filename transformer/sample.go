package transformer

import (
	"math"
	"math/rand/v2"
)

// sampler picks the next token from a row of logits as GenerateOptions
// say, reusing its buffers from call to call. It belongs to one goroutine.
type sampler struct {
	temperature float64
	topK        int
	topP        float64
	heap        []int32   // ids in a max-heap by likelihood (ties: lowest id first)
	order       []int32   // candidate ids, most likely first (id order when nothing is filtered)
	probs       []float64 // their unnormalised probabilities, in order
	weight      []float64 // nucleus without top-k: every id's unnormalised probability, by id
}

func newSampler(vocab int, opts GenerateOptions) *sampler {
	s := &sampler{temperature: opts.Temperature, topK: opts.TopK, topP: opts.TopP}
	if s.temperature > 0 {
		s.heap = make([]int32, vocab)
		s.order = make([]int32, vocab)
		s.probs = make([]float64, vocab)
		if s.nucleus() && s.topK == 0 {
			s.weight = make([]float64, vocab)
		}
	}
	return s
}

// nucleus reports whether top-p filters anything.
func (s *sampler) nucleus() bool { return s.topP > 0 && s.topP < 1 }

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
// kept ids in s.order[:n] with their unnormalised probabilities
// exp((logit − max)/temperature) in s.probs[:n], and returns n and their
// sum. When top-k or top-p filter, the ids are most likely first (ties to
// the lowest id), taken one at a time from a heap: O(d_vocab + n·log
// d_vocab), not a sort of the whole vocabulary.
func (s *sampler) candidates(logits []float32) (n int, sum float64) {
	V := len(logits)
	mx := float64(logits[argmax(logits)])
	weight := func(id int) float64 { return math.Exp((float64(logits[id]) - mx) / s.temperature) }
	limit := V
	if s.topK > 0 {
		limit = min(s.topK, V)
	}
	if limit == V && !s.nucleus() {
		for id := range V {
			s.order[id], s.probs[id] = int32(id), weight(id)
			sum += s.probs[id]
		}
		return V, sum
	}
	// Without top-k the nucleus is a share of every token's mass; with it,
	// of the top-k's.
	target := math.Inf(1)
	if s.weight != nil {
		var total float64
		for id := range V {
			s.weight[id] = weight(id)
			total += s.weight[id]
		}
		target = s.topP * total
	}
	h := s.heap[:V]
	for id := range h {
		h[id] = int32(id)
	}
	heapInit(h, logits)
	for n < limit && (n == 0 || sum < target) { // n ≥ 1 even when NaNs spoil the sums
		id := h[0]
		h = heapPop(h, logits)
		s.order[n] = id
		if s.weight != nil {
			s.probs[n] = s.weight[id]
		} else {
			s.probs[n] = weight(int(id))
		}
		sum += s.probs[n]
		n++
	}
	if s.nucleus() && s.weight == nil {
		// The smallest prefix of the top-k whose mass reaches topP of theirs.
		var cum float64
		for i, p := range s.probs[:n] {
			if cum += p; cum >= s.topP*sum {
				return i + 1, cum
			}
		}
	}
	return n, sum
}

// before is the heap's order: a more likely than b, or as likely with a
// lower id.
func before(logits []float32, a, b int32) bool {
	return logits[a] > logits[b] || logits[a] == logits[b] && a < b
}

// heapInit arranges h as a heap by before (h[0] first).
func heapInit(h []int32, logits []float32) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i, logits)
	}
}

// heapPop removes h[0] and returns the heap of the rest.
func heapPop(h []int32, logits []float32) []int32 {
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	siftDown(h, 0, logits)
	return h
}

func siftDown(h []int32, i int, logits []float32) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && before(logits, h[c+1], h[c]) {
			c++
		}
		if !before(logits, h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
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
