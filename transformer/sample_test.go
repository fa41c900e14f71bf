package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// refKept is the test's own reading of GenerateOptions' sampling: the
// probabilities softmax(logits/temperature) in float64, the topK most
// likely (ties to the lowest id), renormalised, then the smallest set of
// the most likely of those whose mass reaches topP, renormalised. It
// returns each id's probability of being drawn (0 outside the kept set).
func refKept(logits []float32, temperature float64, topK int, topP float64) []float64 {
	ids := make([]int, len(logits))
	for i := range ids {
		ids[i] = i
	}
	sort.SliceStable(ids, func(a, b int) bool { return logits[ids[a]] > logits[ids[b]] })
	if topK > 0 && topK < len(ids) {
		ids = ids[:topK]
	}
	p := make([]float64, len(logits))
	var z float64
	for _, id := range ids {
		p[id] = math.Exp(float64(logits[id]) / temperature)
		z += p[id]
	}
	for _, id := range ids {
		p[id] /= z
	}
	if topP > 0 && topP < 1 {
		var cum float64
		for k, id := range ids {
			cum += p[id]
			if cum >= topP {
				for _, out := range ids[k+1:] {
					p[out] = 0
				}
				for _, in := range ids[:k+1] {
					p[in] /= cum
				}
				break
			}
		}
	}
	return p
}

// TestSamplerKeepsNucleus: top-p keeps exactly the smallest set of the most
// likely tokens whose mass reaches p (after top-k when both are set).
func TestSamplerKeepsNucleus(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 50)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 2)
	}
	for _, temp := range []float64{0.7, 1, 3} {
		for _, k := range []int{0, 1, 7, 50, 60} {
			for _, p := range []float64{0, 0.05, 0.3, 0.6, 0.9, 0.999, 1} {
				s := newSampler(len(logits), GenerateOptions{Temperature: temp, TopK: k, TopP: p})
				n, _ := s.candidates(logits)
				got := slices.Clone(s.order[:n])
				slices.Sort(got)
				var want []int32
				for id, q := range refKept(logits, temp, k, p) {
					if q > 0 {
						want = append(want, int32(id))
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("temperature %g, top-k %d, top-p %g: kept %v, want %v", temp, k, p, got, want)
				}
			}
		}
	}
}

// TestSamplerFrequencies: over many seeds, each token is drawn with its
// renormalised probability, within 5 binomial standard deviations, and
// tokens outside the kept set never.
func TestSamplerFrequencies(t *testing.T) {
	logits := []float32{2.0, 0.5, 1.5, -1, 1.9, 0, 0.7, 1.2}
	const draws = 20000
	for _, o := range []GenerateOptions{
		{Temperature: 1},
		{Temperature: 0.5, TopK: 3},
		{Temperature: 1, TopP: 0.7},
		{Temperature: 2, TopK: 5, TopP: 0.8},
	} {
		t.Run(fmt.Sprintf("T=%g/k=%d/p=%g", o.Temperature, o.TopK, o.TopP), func(t *testing.T) {
			s := newSampler(len(logits), o)
			counts := make([]int, len(logits))
			for seed := range uint64(draws) {
				counts[s.next(logits, rand.New(rand.NewPCG(seed, 77)))]++
			}
			for id, p := range refKept(logits, o.Temperature, o.TopK, o.TopP) {
				f := float64(counts[id]) / draws
				if tol := 5*math.Sqrt(p*(1-p)/draws) + 1.0/draws; math.Abs(f-p) > tol || (p == 0 && counts[id] > 0) {
					t.Errorf("token %d: frequency %.4f, probability %.4f (tolerance %.4f)", id, f, p, tol)
				}
			}
		})
	}
}

// TestSamplerTies: greedy decoding and top-k break ties to the lowest id.
func TestSamplerTies(t *testing.T) {
	logits := []float32{1, 3, 3, 2, 3}
	greedy := newSampler(len(logits), GenerateOptions{})
	if got := greedy.next(logits, nil); got != 1 {
		t.Errorf("greedy over %v: %d, want 1", logits, got)
	}
	top2 := newSampler(len(logits), GenerateOptions{Temperature: 1, TopK: 2})
	for seed := range uint64(200) {
		if got := top2.next(logits, rand.New(rand.NewPCG(seed, seed))); got != 1 && got != 2 {
			t.Fatalf("top-2 over %v drew %d, want 1 or 2", logits, got)
		}
	}
}

// TestSamplerNonFinite: logits with NaN or ±Inf (a broken checkpoint)
// still give an id in range, never a panic.
func TestSamplerNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, logits := range [][]float32{{nan, 1, 2}, {1, inf, 2}, {nan, nan, nan}, {inf, inf, -inf}, {1, nan, inf}} {
		for _, o := range []GenerateOptions{{}, {Temperature: 1}, {Temperature: 1, TopK: 2}, {Temperature: 1, TopP: 0.5}, {Temperature: 1, TopK: 2, TopP: 0.5}} {
			s := newSampler(len(logits), o)
			if got := s.next(logits, rand.New(rand.NewPCG(1, 1))); got < 0 || got >= len(logits) {
				t.Errorf("%+v on %v: id %d", o, logits, got)
			}
		}
	}
}
