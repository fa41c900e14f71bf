package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmBias checks the bias epilogue of every kernel bit for bit against
// Gemm with beta = 1 on a C whose rows hold the bias (the copy it
// replaces), over every panel width and tail, tile height, and more than
// one k block; C's padding must stay untouched and C is not read.
func TestGemmBias(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, kern := range gemmKernels() {
		for _, n := range []int{1, 7, 8, 9, 16, 17, 24, 33, 40, 56, 63, 64, 65, 130} {
			for _, m := range []int{1, 5, 6, 7, 12, 13, 40} {
				for _, k := range []int{1, 5, 64, gemmKC + 3} {
					for _, alpha := range []float32{1, 0.5} {
						tc := gemmCase{m: m, n: n, k: k, alpha: alpha, beta: 1, padC: 3}
						a, lda, b, ldb, c, ldc := gemmOperands(rng, tc)
						bias := make([]float32, n)
						for j := range bias {
							bias[j] = float32(rng.NormFloat64())
						}
						want := append([]float32(nil), c...)
						for i := range m {
							copy(want[i*ldc:i*ldc+n], bias)
						}
						gemmWith(kern, false, false, m, n, k, alpha, a, lda, b, ldb, 1, want, ldc)
						got := append([]float32(nil), c...)
						for i := range m { // C is not read
							for j := range n {
								got[i*ldc+j] = float32(math.NaN())
							}
						}
						gemmNN(kern, false, m, n, k, alpha, a, lda, b, ldb, 0, got, ldc, bias)
						name := fmt.Sprintf("%v m=%d n=%d k=%d alpha=%g", kern, m, n, k, alpha)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s: C[%d] = %v, want %v", name, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

func TestGemmBiasAPI(t *testing.T) {
	c := []float32{9, 9, 9, 9, 9, 9}
	GemmBias(2, 2, 0, 1, nil, 1, nil, 2, []float32{1, 2}, c, 3) // k == 0: rows are the bias
	if want := []float32{1, 2, 9, 1, 2, 9}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("k = 0: C = %v, want %v", c, want)
	}
	a, b := []float32{1, 2}, []float32{3, 4}
	GemmBias(1, 2, 1, 2, a[:1], 1, b, 2, []float32{0.5, -1}, c, 2)
	if want := []float32{6.5, 7}; c[0] != want[0] || c[1] != want[1] {
		t.Errorf("C = %v, want %v", c[:2], want)
	}
	defer func() {
		if _, ok := recover().(ShapeError); !ok {
			t.Errorf("short bias: no ShapeError")
		}
	}()
	GemmBias(1, 2, 1, 1, a, 1, b, 2, []float32{1}, c, 2)
}
