package tensor

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// gemmBench is one benchmarked product: batch independent GEMMs of
// op(A)[m, k]·op(B)[k, n] on contiguous, tightly packed operands.
type gemmBench struct {
	name           string
	transA, transB bool
	m, n, k        int
	batch          int
}

// gemmBenches are the shapes of the toy models' hot path: a linear layer on
// [batch·pos = 2048, d] activations with d_model 64 (and d_mlp 256) forward
// (NN), its weight gradient dW = Xᵀ·dY (TN, k = 2048 rows reduced) and
// input gradient dX = dY·Wᵀ (NT); per-head attention products at pos 40,
// d_head 16, batched over 256 (batch, head) pairs; and a square reference.
var gemmBenches = []gemmBench{
	{name: "NN_2048x64x64", m: 2048, n: 64, k: 64, batch: 1},
	{name: "NN_2048x64x256", m: 2048, n: 64, k: 256, batch: 1},
	{name: "NN_2048x256x64", m: 2048, n: 256, k: 64, batch: 1},
	{name: "TN_64x64x2048", transA: true, m: 64, n: 64, k: 2048, batch: 1},
	{name: "NT_2048x64x64", transB: true, m: 2048, n: 64, k: 64, batch: 1},
	{name: "NN_40x40x16_batch256", m: 40, n: 40, k: 16, batch: 256},
	{name: "NN_40x16x40_batch256", m: 40, n: 16, k: 40, batch: 256},
	{name: "NN_256x256x256", m: 256, n: 256, k: 256, batch: 1},
}

// BenchmarkGemm compares Gemm ("ours", on the kernel Kernel() names, one
// core) with gonum's blas32.Gemm (called as a user would, at the default
// GOMAXPROCS) on the same operands, with beta = 0. Each sub-benchmark
// reports GFLOP/s counting 2·m·n·k flops per product.
func BenchmarkGemm(b *testing.B) {
	for _, impl := range []string{"ours", "gonum"} {
		for _, bc := range gemmBenches {
			b.Run(impl+"/"+bc.name, func(b *testing.B) {
				benchGemm(b, impl == "gonum", bc)
			})
		}
	}
}

func benchGemm(b *testing.B, gonum bool, bc gemmBench) {
	rng := rand.New(rand.NewPCG(1, 1))
	ar, ac := storedDims(bc.transA, bc.m, bc.k)
	br, bcols := storedDims(bc.transB, bc.k, bc.n)
	sa, sb, sc := ar*ac, br*bcols, bc.m*bc.n
	a := randMat(rng, bc.batch*ar, ac, ac)
	bm := randMat(rng, bc.batch*br, bcols, bcols)
	c := make([]float32, bc.batch*sc)
	for i := range c {
		c[i] = 1 // fault the pages in before timing
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if bc.transA {
		ta = blas.Trans
	}
	if bc.transB {
		tb = blas.Trans
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range bc.batch {
			ai, bi, ci := a[i*sa:(i+1)*sa], bm[i*sb:(i+1)*sb], c[i*sc:(i+1)*sc]
			if gonum {
				blas32.Gemm(ta, tb, 1,
					blas32.General{Rows: ar, Cols: ac, Stride: ac, Data: ai},
					blas32.General{Rows: br, Cols: bcols, Stride: bcols, Data: bi},
					0, blas32.General{Rows: bc.m, Cols: bc.n, Stride: bc.n, Data: ci})
			} else {
				Gemm(bc.transA, bc.transB, bc.m, bc.n, bc.k, 1, ai, ac, bi, bcols, 0, ci, bc.n)
			}
		}
	}
	flops := 2 * float64(bc.m) * float64(bc.n) * float64(bc.k) * float64(bc.batch)
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
