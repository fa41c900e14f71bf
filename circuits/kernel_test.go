package circuits

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// kernelTol bounds the difference between a micro-kernel and its Go
// reference: both sum at most a few hundred products of numbers of order 1,
// in different orders (the assembly fuses multiply and add).
const kernelTol = 1e-12

func randSlice(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

func TestKernelsMatchGo(t *testing.T) {
	t.Logf("kernel: %s", kernelName())
	const seed = 1
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, k := range []int{1, 3, 8, 17, 64, 200} {
		// gemm8x8 with a transposed A (ars=1) and a row-major A (acs=1).
		for _, tr := range []bool{false, true} {
			ars, acs := k+2, 1
			if tr {
				ars, acs = 1, 9
			}
			a := randSlice(rng, 8*(k+2)+9*k)
			b := randSlice(rng, k*11)
			got := make([]float64, 8*10)
			want := make([]float64, 8*10)
			gemm8x8(k, a, ars, acs, b, 11, got, 10)
			gemm8x8Go(k, a, ars, acs, b, 11, want, 10)
			for i := range got {
				if math.Abs(got[i]-want[i]) > kernelTol*float64(k) {
					t.Fatalf("seed %d: gemm8x8(k=%d, transposed A %v)[%d] = %v, want %v", seed, k, tr, i, got[i], want[i])
				}
			}
		}
		a := randSlice(rng, 4*(k+5))
		b := randSlice(rng, 4*(k+3))
		var got, want [16]float64
		dot4x4(k, a, k+5, b, k+3, &got)
		dot4x4Go(k, a, k+5, b, k+3, &want)
		for i := range got {
			if math.Abs(got[i]-want[i]) > kernelTol*float64(k) {
				t.Fatalf("seed %d: dot4x4(k=%d)[%d] = %v, want %v", seed, k, i, got[i], want[i])
			}
		}
	}
}

func TestGemmEdges(t *testing.T) {
	const seed = 2
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, s := range [][3]int{{1, 1, 1}, {8, 8, 8}, {13, 21, 5}, {16, 9, 64}, {7, 24, 3}} {
		m, n, k := s[0], s[1], s[2]
		a := randSlice(rng, m*k)
		b := randSlice(rng, k*n)
		c := make([]float64, m*n)
		gemm(m, n, k, a, k, 1, b, n, c, n)
		for i := range m {
			for j := range n {
				var want float64
				for p := range k {
					want += a[i*k+p] * b[p*n+j]
				}
				if got := c[i*n+j]; math.Abs(got-want) > kernelTol*float64(k) {
					t.Fatalf("seed %d: gemm %dx%dx%d at (%d,%d) = %v, want %v", seed, m, n, k, i, j, got, want)
				}
			}
		}
	}
}

// TestCPUFeaturesFromTensor checks that circuits asks package tensor which
// CPU features it may use instead of detecting them again: its kernel
// choice follows tensor.HasAVX512, and none of its assembly runs CPUID or
// XGETBV.
func TestCPUFeaturesFromTensor(t *testing.T) {
	if got, want := kernelName() == "avx512", tensor.HasAVX512(); got != want {
		t.Errorf("circuits uses AVX-512: %v, tensor.HasAVX512: %v", got, want)
	}
	files, err := filepath.Glob("*.s")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ins := range []string{"CPUID", "XGETBV"} {
			if strings.Contains(string(b), ins) {
				t.Errorf("%s runs %s: take CPU features from tensor.HasAVX512", f, ins)
			}
		}
	}
}
