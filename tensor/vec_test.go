package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// expTol is ExpShift's relative error bound: cubic Taylor remainder
// (ln2/32)⁴/24 ≈ 2e-8, plus float32 rounding of a few operations.
const expTol = 3e-7

func TestExpShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 10000)
	for i := range x {
		x[i] = float32(rng.Float64()*170 - 85)
	}
	x = append(x, 0, -87, 88, 1e-8, -1e-8)
	dst := make([]float32, len(x))
	sum := ExpShift(dst, x, 0)
	var want float64
	for i, v := range x {
		w := math.Exp(float64(v))
		want += float64(float32(w))
		if e := math.Abs(float64(dst[i])-w) / w; e > expTol {
			t.Fatalf("exp(%v) = %v, want %v (relative error %.3g)", v, dst[i], w, e)
		}
	}
	if math.Abs(sum-want)/want > 1e-6 {
		t.Errorf("sum %v, want %v", sum, want)
	}
	special := []float32{float32(math.Inf(-1)), -100, float32(math.NaN()), 100}
	out := make([]float32, 4)
	ExpShift(out, special, 0)
	if out[0] != 0 || out[1] != 0 || !math.IsNaN(float64(out[2])) || !math.IsInf(float64(out[3]), 1) {
		t.Errorf("special values: %v", out)
	}
	// The shift is subtracted first.
	ExpShift(out[:1], []float32{5}, 5)
	if out[0] != 1 {
		t.Errorf("exp(5−5) = %v", out[0])
	}
}

func BenchmarkExpShift(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%80) - 60
	}
	dst := make([]float32, len(x))
	b.ReportAllocs()
	for b.Loop() {
		ExpShift(dst, x, 3)
	}
	b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mexp/s")
}

// TestExpShiftKernelsAgree compares the dispatched ExpShift (AVX-512 where
// available) with the portable reference on every length up to 70 (tails)
// and on long rows (the kernel loops over any length), special values
// included.
func TestExpShiftKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []float32{float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN()), -90, 90, 0}
	var lengths []int
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range append(lengths, 255, 256, 257, 2048, 4099) {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Float64()*40 - 30)
			if rng.IntN(8) == 0 {
				x[i] = specials[rng.IntN(len(specials))]
			}
		}
		shift := float32(rng.Float64()*4 - 2)
		got, want := make([]float32, n+1), make([]float32, n+1)
		got[n], want[n] = 42, 42 // past the end: untouched
		sg := ExpShift(got[:n], x, shift)
		sw := expShiftGo(want[:n], x, shift)
		for i := range want {
			g, w := float64(got[i]), float64(want[i])
			if math.IsNaN(w) != math.IsNaN(g) || (!math.IsNaN(w) && math.Abs(g-w) > expTol*math.Abs(w)) {
				t.Fatalf("n=%d: element %d (x=%v): %v, reference %v", n, i, x[min(i, n-1)], g, w)
			}
		}
		if !(math.IsNaN(sw) && math.IsNaN(sg)) && !(math.IsInf(sw, 1) && math.IsInf(sg, 1)) && math.Abs(sg-sw) > 1e-6*math.Abs(sw) {
			t.Fatalf("n=%d: sum %v, reference %v", n, sg, sw)
		}
	}
}
