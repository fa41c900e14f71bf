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
						gemmNN(kern, false, m, n, k, alpha, a, lda, b, ldb, 0, got, ldc, gemmEpi{bias: bias})
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

// TestGemmEpilogues checks the addend epilogues of every kernel bit for
// bit: bias + out2 = C + add (the residual) against the bias epilogue and
// an element-wise add, and add alone against beta = 1 on a C holding add,
// for B as stored and transposed; C's padding must stay untouched.
func TestGemmEpilogues(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	same := func(name string, got, want []float32) {
		t.Helper()
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	for _, kern := range gemmKernels() {
		for _, n := range []int{1, 7, 9, 16, 24, 40, 63, 64, 65, 130} {
			for _, m := range []int{1, 5, 7, 12, 13, 40} {
				for _, k := range []int{1, 64, gemmPackKC + 5} {
					tc := gemmCase{m: m, n: n, k: k, alpha: 0.75, beta: 1, padC: 3}
					a, lda, b, ldb, c, ldc := gemmOperands(rng, tc)
					name := fmt.Sprintf("%v m=%d n=%d k=%d", kern, m, n, k)
					bias := randMat(rng, 1, n, n)
					add := append([]float32(nil), c...)
					for i := range add {
						add[i] = float32(rng.NormFloat64())
					}
					if k <= gemmKC {
						want := append([]float32(nil), c...)
						gemmNN(kern, false, m, n, k, 0.75, a, lda, b, ldb, 0, want, ldc, gemmEpi{bias: bias})
						want2 := append([]float32(nil), c...)
						for i := range m {
							for j := range n {
								want2[i*ldc+j] = want[i*ldc+j] + add[i*ldc+j]
							}
						}
						got, got2 := append([]float32(nil), c...), append([]float32(nil), c...)
						gemmNN(kern, false, m, n, k, 0.75, a, lda, b, ldb, 0, got, ldc, gemmEpi{bias: bias, add: add, out2: got2})
						same(name+" bias+add C", got, want)
						same(name+" bias+add out2", got2, want2)
					}
					// add alone, B as stored and transposed
					bt := make([]float32, n*k) // Bᵀ stored n×k
					for p := range k {
						for j := range n {
							bt[j*k+p] = b[p*ldb+j]
						}
					}
					want := append([]float32(nil), c...)
					for i := range m {
						copy(want[i*ldc:i*ldc+n], add[i*ldc:i*ldc+n])
					}
					gemmWith(kern, false, false, m, n, k, 0.75, a, lda, b, ldb, 1, want, ldc)
					got := append([]float32(nil), c...)
					gemmNN(kern, false, m, n, k, 0.75, a, lda, b, ldb, 0, got, ldc, gemmEpi{add: add})
					same(name+" add", got, want)
					wantT := append([]float32(nil), c...)
					for i := range m {
						copy(wantT[i*ldc:i*ldc+n], add[i*ldc:i*ldc+n])
					}
					gemmWith(kern, false, true, m, n, k, 0.75, a, lda, bt, k, 1, wantT, ldc)
					gotT := append([]float32(nil), c...)
					gemmPackedB(kern, false, m, n, k, 0.75, a, lda, bt, k, 0, gotT, ldc, gemmEpi{add: add})
					same(name+" add, B transposed", gotT, wantT)
				}
			}
		}
	}
}

func TestGemmEpilogueAPI(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	const m, n = 5, 9
	for _, k := range []int{0, 3, gemmKC + 1} { // k = 0 and two k blocks take the unfused paths
		a, b := randMat(rng, m, max(k, 1), max(k, 1)), randMat(rng, max(k, 1), n, n)
		bias, add := randMat(rng, 1, n, n), randMat(rng, m, n, n)
		want, got, got2 := make([]float32, m*n), make([]float32, m*n), make([]float32, m*n)
		GemmBias(m, n, k, 1, a, max(k, 1), b, n, bias, want, n)
		GemmBiasAdd(m, n, k, 1, a, max(k, 1), b, n, bias, got, n, add, got2)
		for i := range want {
			if got[i] != want[i] || got2[i] != want[i]+add[i] {
				t.Fatalf("k=%d: GemmBiasAdd [%d] = %v, %v; want %v, %v", k, i, got[i], got2[i], want[i], want[i]+add[i])
			}
		}
		wantA := append([]float32(nil), add...)
		Gemm(false, false, m, n, k, 1, a, max(k, 1), b, n, 1, wantA, n)
		gotA := make([]float32, m*n)
		GemmAdd(false, false, m, n, k, 1, a, max(k, 1), b, n, add, gotA, n)
		for i := range wantA {
			if gotA[i] != wantA[i] {
				t.Fatalf("k=%d: GemmAdd [%d] = %v, want %v", k, i, gotA[i], wantA[i])
			}
		}
	}
	for _, f := range []func(){
		func() {
			GemmBiasAdd(2, 2, 1, 1, make([]float32, 2), 1, make([]float32, 2), 2, make([]float32, 2), make([]float32, 4), 2, make([]float32, 3), make([]float32, 4))
		},
		func() {
			GemmAdd(false, false, 2, 2, 1, 1, make([]float32, 2), 1, make([]float32, 2), 2, make([]float32, 3), make([]float32, 4), 2)
		},
	} {
		func() {
			defer func() {
				if _, ok := recover().(ShapeError); !ok {
					t.Errorf("short addend: no ShapeError")
				}
			}()
			f()
		}()
	}
}
