package data

// InductionPredictable returns the positions of tokens whose next token
// the induction task makes predictable: the sequence ends with a block of
// Ls ≥ 2 tokens repeated twice in a row (…P P), Ls the longest such, and
// the predictable positions are T−Ls ≤ i ≤ T−2, each holding P[k] with its
// next token P[k+1] after P[k]'s earlier occurrence. These are exactly the
// positions Induction.Fill and FillFixed weight (Weights[i] = 1), recovered
// from the tokens alone, so a caller can report loss over them for any
// input. ok is false when the sequence does not end with a repeated block
// of at least two tokens (then no position is predictable this way).
func InductionPredictable(tokens []int) (from, to int, ok bool) {
	T := len(tokens)
	for ls := T / 2; ls >= 2; ls-- {
		if equalInts(tokens[T-ls:], tokens[T-2*ls:T-ls]) {
			return T - ls, T - 2, true
		}
	}
	return 0, 0, false
}

func equalInts(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
