package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSoftmaxRow checks SoftmaxRow bit for bit against softmaxRowGo (the
// same exponentials and summation order) on every tail length, in place
// and not, with −Inf, NaN and +Inf entries and fully masked rows, up to
// rows of 3,001 (the kernels loop over any length).
func TestSoftmaxRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	inf := float32(math.Inf(1))
	for _, n := range []int{1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 255, 256, 257, 2048, 3001} {
		for trial := range 6 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 10)
				switch trial {
				case 1:
					if rng.IntN(3) == 0 {
						x[i] = -inf
					}
				case 2:
					x[i] = -inf
				case 3:
					if i == n/2 {
						x[i] = float32(math.NaN())
					}
				case 4:
					if i == n-1 {
						x[i] = inf
					}
				}
			}
			name := fmt.Sprintf("n=%d trial=%d", n, trial)
			want := make([]float32, n)
			wm, ws := softmaxRowGo(want, x)
			for _, inPlace := range []bool{false, true} {
				got := make([]float32, n+1) // got[n] must stay untouched
				got[n] = 42
				src := x
				if inPlace {
					copy(got, x)
					src = got[:n]
				}
				m, s := SoftmaxRow(got, src)
				same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
				if !same(float64(m), float64(wm)) || !same(s, ws) {
					t.Fatalf("%s in place %v: m, s = %v, %v, reference %v, %v", name, inPlace, m, s, wm, ws)
				}
				for j := range want {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(math.IsNaN(float64(got[j])) && math.IsNaN(float64(want[j]))) {
						t.Fatalf("%s in place %v: dst[%d] = %v, reference %v", name, inPlace, j, got[j], want[j])
					}
				}
				if got[n] != 42 {
					t.Fatalf("%s: wrote past the row", name)
				}
			}
		}
	}
}
