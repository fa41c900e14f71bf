package data

// RepeatedPositions reports, for each position i of tokens, whether its
// next token is predictable by induction: i has a next token (i ≤ T−2) and
// tokens[i] occurred at an earlier position, so that a model can look up
// what followed it then. It needs nothing but the sequence.
//
// On the Induction task with Distinct set these are exactly the weighted
// targets (T−Ls ≤ i ≤ T−2: the second copy of the block but its last
// token), the positions the task makes predictable; the first copy and the
// filler are unpredictable. Without Distinct a token may also recur by
// chance, and its position is counted too.
func RepeatedPositions(tokens []int) []bool {
	out := make([]bool, len(tokens))
	seen := make(map[int]bool, len(tokens))
	for i, t := range tokens {
		out[i] = seen[t] && i+1 < len(tokens)
		seen[t] = true
	}
	return out
}
