package tensor

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gemmErrPerTerm bounds the error of a float32 GEMM against the float64
// reference, per term of the k-term dot product and relative to
// |alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|. Summing k float32 products in any
// order is off by at most γ_k ≈ k·u of that magnitude (u = 2⁻²⁴ is the unit
// roundoff; Higham, Accuracy and Stability, §3.1); scaling by alpha and
// adding beta·C cost two roundings more, so tolerance = (k+2)·2u·magnitude.
// The factor 2 leaves room for the rounding of a product that is not fused.
const gemmErrPerTerm = 0x1p-23

// gemmPad is the value written into C's padding (columns n..ldc-1 and the
// slack after the last row); a kernel must leave it untouched.
const gemmPad = float32(-12345.5)

// gemmCase is one GEMM problem: shapes, transposes, scalars and the extra
// columns beyond the minimum leading dimension of each operand.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int
	padC           int
	nanC           bool // fill C with NaN (only meaningful with beta == 0)
}

func (tc gemmCase) String() string {
	tr := func(t bool) string {
		if t {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s m=%d n=%d k=%d alpha=%g beta=%g pad=%d/%d/%d nanC=%v",
		tr(tc.transA), tr(tc.transB), tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC, tc.nanC)
}

// gemmOperands builds A, B and C for tc with exactly the minimum slice
// lengths for A and B (so out-of-range indexing panics) and a padded C.
func gemmOperands(rng *rand.Rand, tc gemmCase) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := storedDims(tc.transA, tc.m, tc.k)
	br, bc := storedDims(tc.transB, tc.k, tc.n)
	lda, ldb, ldc = max(ac, 1)+tc.padA, max(bc, 1)+tc.padB, max(tc.n, 1)+tc.padC
	a = randMat(rng, ar, ac, lda)
	b = randMat(rng, br, bc, ldb)
	c = make([]float32, tc.m*ldc+7) // 7 floats of slack after the last row
	for i := range c {
		c[i] = gemmPad
	}
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			if tc.nanC {
				c[i*ldc+j] = float32(math.NaN())
			} else {
				c[i*ldc+j] = float32(rng.NormFloat64())
			}
		}
	}
	return a, lda, b, ldb, c, ldc
}

// randMat returns a rows×cols matrix with leading dimension ld, of exactly
// the minimum length, with standard normal entries (padding is NaN, so a
// kernel that reads it shows up in the result).
func randMat(rng *rand.Rand, rows, cols, ld int) []float32 {
	if rows == 0 || cols == 0 {
		return nil
	}
	x := make([]float32, (rows-1)*ld+cols)
	for i := range x {
		if i%ld < cols {
			x[i] = float32(rng.NormFloat64())
		} else {
			x[i] = float32(math.NaN())
		}
	}
	return x
}

// checkGemmCase runs kern on tc and compares with GemmRef element-wise,
// and checks that C's padding is untouched.
func checkGemmCase(t *testing.T, kern gemmKernel, rng *rand.Rand, seed uint64, tc gemmCase) bool {
	t.Helper()
	a, lda, b, ldb, c, ldc := gemmOperands(rng, tc)
	want := append([]float32(nil), c...)
	got := append([]float32(nil), c...)
	GemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	checkGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, a, lda, b, ldb, got, ldc)
	if tc.m > 0 && tc.n > 0 {
		gemmWith(kern, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
	}
	for idx := range got {
		i, j := idx/ldc, idx%ldc
		if i >= tc.m || j >= tc.n {
			if got[idx] != gemmPad {
				t.Errorf("%v %v (seed %d): C padding [%d] (row %d col %d) = %g, want untouched %g", kern, tc, seed, idx, i, j, got[idx], gemmPad)
				return false
			}
			continue
		}
		var mag float64
		for p := 0; p < tc.k; p++ {
			av, bv := gemmAt(a, lda, i, p, tc.transA), gemmAt(b, ldb, p, j, tc.transB)
			mag += math.Abs(float64(av) * float64(bv))
		}
		mag *= math.Abs(float64(tc.alpha))
		if tc.beta != 0 {
			mag += math.Abs(float64(tc.beta) * float64(c[idx]))
		}
		tol := float64(tc.k+2) * gemmErrPerTerm * mag
		if d := math.Abs(float64(got[idx]) - float64(want[idx])); !(d <= tol) {
			t.Errorf("%v %v (seed %d): C[%d,%d] = %g, want %g (|diff| %g > tol %g)", kern, tc, seed, i, j, got[idx], want[idx], d, tol)
			return false
		}
	}
	return true
}

// gemmAt returns element (i, j) of op(X) for X stored with leading
// dimension ld.
func gemmAt(x []float32, ld, i, j int, trans bool) float32 {
	if trans {
		return x[j*ld+i]
	}
	return x[i*ld+j]
}

// gemmScalars are the (alpha, beta) pairs tested; the kernels have separate
// epilogues for beta == ±0 with alpha == 1 or not, beta == 1, and general.
// Negative zero beta must count as zero (C not read).
var gemmScalars = [][2]float32{{1, 0}, {0.5, 0}, {1, 1}, {0.5, 1}, {-1.5, float32(math.Copysign(0, -1))}, {0.75, -0.25}, {0, 2}}

func TestGemmKernelsSampled(t *testing.T) {
	const seed = 1
	combos := 600
	if testing.Short() {
		combos = 120
	}
	for _, kern := range gemmKernels() {
		t.Run(kern.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			for range combos {
				sc := gemmScalars[rng.IntN(len(gemmScalars))]
				tc := gemmCase{
					m: 1 + rng.IntN(70), n: 1 + rng.IntN(70), k: 1 + rng.IntN(70),
					alpha: sc[0], beta: sc[1],
					padA: rng.IntN(3) * (1 + 2*rng.IntN(4)), padB: rng.IntN(3) * (1 + 2*rng.IntN(4)),
					padC: rng.IntN(2) * (1 + 2*rng.IntN(8)),
				}
				tc.nanC = tc.beta == 0 && rng.IntN(2) == 0
				for _, tr := range [4][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					tc.transA, tc.transB = tr[0], tr[1]
					if !checkGemmCase(t, kern, rng, seed, tc) {
						return
					}
				}
			}
		})
	}
}

// TestGemmKernelsTiles sweeps every row-tile height and column tail so that
// each generated micro-kernel, and each tail mask, runs at least once.
func TestGemmKernelsTiles(t *testing.T) {
	const seed = 2
	ns := []int{1, 7, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33, 40, 48, 49, 56, 57, 63, 64, 65, 70}
	for _, kern := range gemmKernels() {
		t.Run(kern.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			for m := 1; m <= 25; m++ {
				for _, n := range ns {
					for _, tr := range [4][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
						tc := gemmCase{transA: tr[0], transB: tr[1], m: m, n: n, k: 1 + rng.IntN(9), alpha: 1, beta: 0.5, padC: 3}
						if !checkGemmCase(t, kern, rng, seed, tc) {
							return
						}
					}
				}
			}
		})
	}
}

// TestGemmKernelsLarge covers k blocking, several column panels and the
// long-k transposed-A product of a linear layer's weight gradient.
func TestGemmKernelsLarge(t *testing.T) {
	const seed = 3
	cases := []gemmCase{
		{m: 130, n: 200, k: 260, alpha: 1, beta: 0},
		{m: 13, n: 70, k: 257, alpha: -0.5, beta: 1, padA: 5, padB: 3, padC: 1},
		{m: 64, n: 64, k: 2048, alpha: 1, beta: 1, transA: true}, // dW = Xᵀ·dY
		{m: 300, n: 64, k: 64, alpha: 1, beta: 0, transB: true},  // dX = dY·Wᵀ
		{m: 67, n: 129, k: 300, alpha: 2, beta: 0.5, transA: true, transB: true},
		{m: 100, n: 256, k: 64, alpha: 1, beta: 0, nanC: true, padC: 9},
	}
	if testing.Short() {
		cases = cases[:2]
	}
	for _, kern := range gemmKernels() {
		rng := rand.New(rand.NewPCG(seed, seed))
		for _, tc := range cases {
			checkGemmCase(t, kern, rng, seed, tc)
		}
	}
}

func TestGemmZeroSizes(t *testing.T) {
	const seed = 4
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, kern := range gemmKernels() {
		for _, tc := range []gemmCase{
			{m: 5, n: 7, k: 0, alpha: 1, beta: 0.5, padC: 2},
			{m: 5, n: 7, k: 0, alpha: 1, beta: 0, nanC: true},
			{m: 0, n: 7, k: 3, alpha: 1, beta: 1},
			{m: 5, n: 0, k: 3, alpha: 1, beta: 1, padC: 1},
		} {
			for _, tr := range [4][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				tc.transA, tc.transB = tr[0], tr[1]
				checkGemmCase(t, kern, rng, seed, tc)
			}
		}
	}
	// Through the public entry point too.
	c := []float32{float32(math.NaN()), 3}
	Gemm(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	if c[0] != 0 || c[1] != 0 {
		t.Errorf("Gemm k=0 beta=0: C = %v, want [0 0]", c)
	}
}

func TestGemmNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const m, n, k, ld = 70, 70, 150, 151 // ld fits every operand either way round
	a := randMat(rng, ld, ld, ld)
	b := randMat(rng, ld, ld, ld)
	c := make([]float32, m*n)
	for _, kern := range gemmKernels() {
		for _, tr := range [4][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			allocs := testing.AllocsPerRun(10, func() {
				gemmWith(kern, tr[0], tr[1], m, n, k, 1, a, ld, b, ld, 0.5, c, n)
			})
			if allocs != 0 {
				t.Errorf("%v transA=%v transB=%v: %v allocations per call, want 0", kern, tr[0], tr[1], allocs)
			}
		}
	}
	allocs := testing.AllocsPerRun(10, func() {
		Gemm(false, true, m, n, k, 1, a, ld, b, ld, 0, c, n)
	})
	if allocs != 0 {
		t.Errorf("Gemm: %v allocations per call, want 0", allocs)
	}
}

func TestGemmShapeErrors(t *testing.T) {
	a := make([]float32, 6)
	b := make([]float32, 6)
	c := make([]float32, 4)
	tests := []struct {
		name string
		call func()
	}{
		{"negative m", func() { Gemm(false, false, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2) }},
		{"lda too small", func() { Gemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) }},
		{"ldb too small transposed", func() { Gemm(false, true, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) }},
		{"C too short", func() { Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c[:3], 2) }},
		{"A too short", func() { Gemm(false, false, 2, 2, 3, 1, a[:5], 3, b, 2, 0, c, 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				var se ShapeError
				if !ok || !errors.As(err, &se) {
					t.Errorf("panic value %v (%T), want a ShapeError", r, r)
				}
			}()
			tt.call()
		})
	}
}

func TestKernelName(t *testing.T) {
	if got, want := Kernel(), gemmKernels()[0].String(); got != want {
		t.Errorf("Kernel() = %q, want the fastest available %q", got, want)
	}
}
