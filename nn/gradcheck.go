package nn

import (
	"math"

	"gonum.org/v1/gonum/diff/fd"
)

// GradCheckStep is the central-difference step used on float32 layers: large
// enough that float32 rounding of the loss (≈1e-7 relative) divided by the
// step stays far below the tolerance, small enough that the O(h²) truncation
// error of the central formula is negligible for smooth layers.
const GradCheckStep = 1e-2

// GradCheck compares analytic, a claimed gradient of loss at x, with a
// central-difference gradient of loss computed by gonum's diff/fd in float64.
// loss receives a float64 copy of the point and typically converts it to
// float32 parameters, runs the layer's Forward and reduces its output to a
// scalar in float64. GradCheck returns the largest error
// |analytic − numeric| / max(1, |numeric|) and the index where it occurs.
// It panics if len(analytic) != len(x).
func GradCheck(loss func(x []float64) float64, x []float64, analytic []float64, step float64) (maxErr float64, at int) {
	if len(analytic) != len(x) {
		panic("nn: GradCheck: analytic gradient and point differ in length")
	}
	numeric := make([]float64, len(x))
	fd.Gradient(numeric, loss, x, &fd.Settings{Formula: fd.Central, Step: step})
	at = -1
	for i := range x {
		e := math.Abs(analytic[i]-numeric[i]) / math.Max(1, math.Abs(numeric[i]))
		if e > maxErr || at < 0 {
			maxErr, at = e, i
		}
	}
	return maxErr, at
}

// To64 returns a float64 copy of x.
func To64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// To32 copies x into dst as float32 (dst must be at least len(x) long).
func To32(dst []float32, x []float64) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = float32(v)
	}
}
