package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// A Mixture is an equal-weight mixture of isotropic 2-D Gaussians with
// centres Centres[k] = (x, y) and common standard deviation Sigma per
// coordinate: the toy data of GAN mode-collapse experiments. The VEEGAN
// metrics (Srivastava et al., 2017) count a sample as high quality when it
// lies within 3·Sigma of its nearest centre, and a mode as captured when
// enough samples are assigned to it; Nearest provides the assignment.
//
// A Mixture is read-only once built and safe for concurrent use.
type Mixture struct {
	Centres [][2]float64
	Sigma   float64
}

// Ring returns k modes evenly spaced on a circle of the given radius about
// the origin, mode j at angle 2πj/k (mode 0 at (radius, 0)), each with
// standard deviation sigma. Coordinates within 1e-12·radius of zero are set
// to exactly zero.
func Ring(k int, radius, sigma float64) Mixture {
	m := Mixture{Centres: make([][2]float64, k), Sigma: sigma}
	for j := range m.Centres {
		s, c := math.Sincos(2 * math.Pi * float64(j) / float64(k))
		m.Centres[j] = [2]float64{snap(radius*c, radius), snap(radius*s, radius)}
	}
	return m
}

func snap(v, scale float64) float64 {
	if math.Abs(v) < 1e-12*math.Abs(scale) {
		return 0
	}
	return v
}

// Grid returns side×side modes on a square grid with the given spacing,
// centred on the origin, each with standard deviation sigma. Mode i·side+j
// is at (x_i, x_j) with x_i = (i − (side−1)/2)·spacing.
func Grid(side int, spacing, sigma float64) Mixture {
	m := Mixture{Centres: make([][2]float64, 0, side*side), Sigma: sigma}
	for i := range side {
		for j := range side {
			x := (float64(i) - float64(side-1)/2) * spacing
			y := (float64(j) - float64(side-1)/2) * spacing
			m.Centres = append(m.Centres, [2]float64{x, y})
		}
	}
	return m
}

// Ring8 returns the 8-mode ring of the unrolled-GAN and VEEGAN papers:
// radius 2, σ 0.02.
func Ring8() Mixture { return Ring(8, 2, 0.02) }

// Grid25 returns the 25-mode grid of the VEEGAN paper: centres at
// {−4, −2, 0, 2, 4}², σ 0.05.
func Grid25() Mixture { return Grid(5, 2, 0.05) }

// Sample writes n samples into dst as [n, 2] row-major (x, y) pairs, each
// from a uniformly chosen mode. It draws only from rng and never allocates.
// It panics with a ShapeError if len(dst) < 2n or the mixture has no modes.
func (m Mixture) Sample(dst []float32, n int, rng *rand.Rand) {
	if n < 0 || len(dst) < 2*n || len(m.Centres) == 0 {
		panic(ShapeError{Op: "Mixture.Sample", Msg: fmt.Sprintf("%d samples into %d floats from %d modes", n, len(dst), len(m.Centres))})
	}
	for i := range n {
		c := m.Centres[rng.IntN(len(m.Centres))]
		dst[2*i] = float32(c[0] + m.Sigma*rng.NormFloat64())
		dst[2*i+1] = float32(c[1] + m.Sigma*rng.NormFloat64())
	}
}

// Nearest returns the index of the centre nearest to (x, y) and the
// Euclidean distance to it. It panics (index out of range) if the mixture has
// no modes.
func (m Mixture) Nearest(x, y float64) (mode int, dist float64) {
	c := m.Centres[0]
	dist = math.Hypot(x-c[0], y-c[1])
	for k, c := range m.Centres[1:] {
		if d := math.Hypot(x-c[0], y-c[1]); d < dist {
			mode, dist = k+1, d
		}
	}
	return mode, dist
}
