package transformer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SampleOptions control Generate. Temperature 0 means greedy decoding
// (argmax, ties to the lowest id); TopK > 0 keeps only the K most likely
// tokens before sampling. Rand is required when Temperature > 0.
type SampleOptions struct {
	Temperature float64
	TopK        int
	Rand        *rand.Rand
}

// Generate extends prompt by n tokens, one at a time, each drawn from the
// model's next-token distribution at the last position. The sequence may not
// grow beyond n_ctx; tokens are ids in [0, d_vocab_out) and must also be
// valid inputs ([0, d_vocab)). It returns the prompt plus the new tokens.
func (m *Model) Generate(ctx context.Context, prompt []int, n int, opt SampleOptions) ([]int, error) {
	switch {
	case n < 0:
		return nil, fmt.Errorf("transformer: cannot generate %d tokens", n)
	case len(prompt)+n > m.Cfg.NCtx:
		return nil, fmt.Errorf("transformer: prompt of %d plus %d new tokens exceeds n_ctx %d", len(prompt), n, m.Cfg.NCtx)
	case opt.Temperature < 0 || math.IsNaN(opt.Temperature):
		return nil, fmt.Errorf("transformer: temperature must be ≥ 0, got %g", opt.Temperature)
	case opt.Temperature > 0 && opt.Rand == nil:
		return nil, fmt.Errorf("transformer: sampling with temperature %g needs a random source", opt.Temperature)
	case opt.TopK < 0:
		return nil, fmt.Errorf("transformer: top-k must be ≥ 0, got %d", opt.TopK)
	}
	seq := slices.Clone(prompt)
	V := m.Cfg.DVocabOut
	probs := make([]float64, V)
	order := make([]int, V)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return seq, err
		}
		logits, err := m.Run(ctx, [][]int{seq}, nil)
		if err != nil {
			return nil, err
		}
		last := logits.Data[(len(seq)-1)*V : len(seq)*V]
		next := sampleNext(last, opt, probs, order)
		if next >= m.Cfg.DVocab {
			return seq, fmt.Errorf("transformer: sampled token %d cannot be fed back (d_vocab %d)", next, m.Cfg.DVocab)
		}
		seq = append(seq, next)
	}
	return seq, nil
}

// sampleNext picks a token id from one row of logits.
func sampleNext(logits []float32, opt SampleOptions, probs []float64, order []int) int {
	if opt.Temperature == 0 {
		best := 0
		for j, v := range logits {
			if v > logits[best] {
				best = j
			}
		}
		return best
	}
	for j := range order {
		order[j] = j
	}
	// Stable sort by logit, descending: ties keep the lower id first.
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return 0
	})
	k := len(order)
	if opt.TopK > 0 && opt.TopK < k {
		k = opt.TopK
	}
	mx := float64(logits[order[0]]) / opt.Temperature
	var sum float64
	for i := 0; i < k; i++ {
		probs[i] = math.Exp(float64(logits[order[i]])/opt.Temperature - mx)
		sum += probs[i]
	}
	u := opt.Rand.Float64() * sum
	for i := 0; i < k; i++ {
		u -= probs[i]
		if u < 0 {
			return order[i]
		}
	}
	return order[k-1]
}
