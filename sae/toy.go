package sae

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Toy is the ground-truth set-up of Sharkey et al. (2022) and Elhage et
// al. (2022): N sparse features in superposition in D < N dimensions. Each
// feature has a random unit direction; a sample fires each feature
// independently with probability P, with a magnitude uniform in [0, 1],
// and is the sum of the fired features' directions times their
// magnitudes.
type Toy struct {
	N, D int
	P    float64
	Dirs []float32 // [N, D], unit rows
}

// NewToy returns the set-up with directions drawn from seed.
func NewToy(n, d int, p float64, seed uint64) (*Toy, error) {
	if n < 1 || d < 1 || n*d > 1<<26 {
		return nil, fmt.Errorf("sae: toy of %d features in %d dimensions", n, d)
	}
	if !(p > 0 && p <= 1) {
		return nil, fmt.Errorf("sae: toy feature probability %g outside (0, 1]", p)
	}
	t := &Toy{N: n, D: d, P: p, Dirs: make([]float32, n*d)}
	rng := rand.New(rand.NewPCG(seed, 0x70e))
	for f := range n {
		row := t.Dirs[f*d : (f+1)*d]
		var s float64
		for i := range row {
			v := rng.NormFloat64()
			row[i] = float32(v)
			s += v * v
		}
		for i := range row {
			row[i] = float32(float64(row[i]) / math.Sqrt(s))
		}
	}
	return t, nil
}

// Fill writes rows samples into x [rows, D], drawing from rng.
func (t *Toy) Fill(x []float32, rows int, rng *rand.Rand) {
	clear(x[:rows*t.D])
	for r := range rows {
		dst := x[r*t.D : (r+1)*t.D]
		for f := range t.N {
			if rng.Float64() >= t.P {
				continue
			}
			m := float32(rng.Float64())
			for i, v := range t.Dirs[f*t.D : (f+1)*t.D] {
				dst[i] += m * v
			}
		}
	}
}
