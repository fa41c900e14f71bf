package data

import "math/rand/v2"

// drawUniform fills dst with tokens drawn independently and uniformly from
// [lo, hi).
func drawUniform(dst []int32, lo, hi int32, rng *rand.Rand) {
	n := hi - lo
	for i := range dst {
		dst[i] = lo + rng.Int32N(n)
	}
}

// drawDistinct fills dst with len(dst) distinct tokens from [lo, hi), a
// uniformly random ordered sample without replacement. It needs
// len(dst) ≤ hi−lo (callers validate this).
//
// It uses Floyd's algorithm (Bentley & Floyd, "A sample of brilliance",
// CACM 1987) to pick a uniform random subset with exactly len(dst) draws and
// no scratch memory, then a Fisher–Yates shuffle to make the order uniform.
// Membership is a linear scan, so the cost is O(len(dst)²): negligible for
// the sequence lengths of toy models, and it keeps generation allocation-free
// whatever the vocabulary size.
func drawDistinct(dst []int32, lo, hi int32, rng *rand.Rand) {
	m := int32(len(dst))
	n := hi - lo
	for i, j := int32(0), n-m; j < n; i, j = i+1, j+1 {
		t := lo + rng.Int32N(j+1)
		if contains(dst[:i], t) {
			t = lo + j
		}
		dst[i] = t
	}
	for i := len(dst) - 1; i > 0; i-- {
		k := rng.IntN(i + 1)
		dst[i], dst[k] = dst[k], dst[i]
	}
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
