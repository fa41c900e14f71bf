package transformer

// Rotary position embeddings come in two pairings of each head's first
// rotary_dim dimensions. Rotate-half (Hugging Face, GPT-NeoX) turns
// dimensions i and i + rotary_dim/2 together; the adjacent pairing
// (TransformerLens's rotary_adjacent_pairs: Meta's original Llama code and
// llama2.c) turns 2i and 2i+1. Pair i turns by p·θ_i,
// θ_i = rotary_base^(−2i/rotary_dim), in both, so they share rotaryTables
// and differ only by a permutation of each head's dimensions: a model in
// one pairing is the other with the columns of W_Q and W_K (and b_Q, b_K)
// permuted within each head.

// rotaryPairs returns where pair i lives in a head: dimensions i·step and
// i·step + gap.
func rotaryPairs(c Config) (step, gap int) {
	if c.RotaryAdjacentPairs {
		return 2, 1
	}
	return 1, c.RotaryDim / 2
}
