package nn

import (
	"math"
	"testing"
)

// TestGELUTanhForwardGrid checks GELUTanhForward against its float64
// definition on a dense grid across several blocks, through the float32
// exponential (x above about −2.9) and the float64 tail below, and with
// the special values: ±Inf and NaN.
func TestGELUTanhForwardGrid(t *testing.T) {
	const n = 3*geluBlock + 17
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(-12 + 24*float64(i)/float64(n-1))
	}
	x[5], x[300], x[600] = float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())
	GELUTanhForward(y, x)
	for i, v := range x {
		f := float64(v)
		want := 0.5 * f * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(f+0.044715*f*f*f)))
		switch {
		case math.IsNaN(f) || math.IsInf(f, -1): // −Inf·0 is NaN, as in the reference
			if !math.IsNaN(float64(y[i])) {
				t.Errorf("GELUTanh(%v) = %v, want NaN", v, y[i])
			}
		case math.IsInf(f, 1):
			if !math.IsInf(float64(y[i]), 1) {
				t.Errorf("GELUTanh(%v) = %v, want +Inf", v, y[i])
			}
		case relErr(float64(y[i]), want) > forwardTol:
			t.Errorf("GELUTanh(%v) = %v, want %v (relative error %.2g)", v, y[i], want, relErr(float64(y[i]), want))
		}
	}
}
