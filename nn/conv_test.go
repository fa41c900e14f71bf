package nn

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// convTol bounds the relative error of the float32 im2col+GEMM convolution
// against the float64 loops on O(1) inputs: every output is a sum of at most
// InC·KH·KW ≈ 50 products, each rounded once (6e-8), and the GEMM kernels
// accumulate in float32 with FMA; 2e-5 leaves room for cancellation in sums
// whose result is much smaller than their terms. A wrong index is O(1).
const convTol = 2e-5

// convCases are the odd shapes the im2col path must get right: stride 2 with
// padding 1, 1×1 kernels with and without stride, non-square kernels and
// images, padding wider than the stride, and a window that only just fits.
var convCases = []Conv2d{
	{Batch: 2, InC: 3, InH: 7, InW: 5, OutC: 4, KH: 3, KW: 3, Stride: 2, Pad: 1},
	{Batch: 2, InC: 3, InH: 6, InW: 6, OutC: 5, KH: 1, KW: 1, Stride: 1, Pad: 0},
	{Batch: 1, InC: 4, InH: 7, InW: 6, OutC: 3, KH: 1, KW: 1, Stride: 2, Pad: 0},
	{Batch: 2, InC: 2, InH: 5, InW: 8, OutC: 3, KH: 2, KW: 3, Stride: 1, Pad: 0},
	{Batch: 1, InC: 2, InH: 6, InW: 4, OutC: 2, KH: 3, KW: 1, Stride: 3, Pad: 2},
	{Batch: 3, InC: 1, InH: 4, InW: 4, OutC: 2, KH: 4, KW: 4, Stride: 1, Pad: 0},
	{Batch: 1, InC: 2, InH: 5, InW: 5, OutC: 3, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{Batch: 2, InC: 2, InH: 3, InW: 9, OutC: 2, KH: 5, KW: 2, Stride: 2, Pad: 2},
	// "Same"-width windows take im2col's one-copy path: a tall kernel that
	// shortens the output, a narrow image, a single-row image.
	{Batch: 2, InC: 2, InH: 4, InW: 5, OutC: 3, KH: 5, KW: 3, Stride: 1, Pad: 1},
	{Batch: 1, InC: 3, InH: 6, InW: 3, OutC: 2, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{Batch: 2, InC: 1, InH: 1, InW: 4, OutC: 2, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{Batch: 1, InC: 2, InH: 5, InW: 7, OutC: 2, KH: 5, KW: 5, Stride: 1, Pad: 2},
}

// convRef computes Conv2d in float64 by its definition, loop by loop.
func convRef(x, w, b []float32, d Conv2d) []float64 {
	oh, ow := d.OutH(), d.OutW()
	y := make([]float64, d.OutLen())
	for n := range d.Batch {
		for o := range d.OutC {
			for i := range oh {
				for j := range ow {
					var s float64
					if b != nil {
						s = float64(b[o])
					}
					for c := range d.InC {
						for p := range d.KH {
							for q := range d.KW {
								r, col := i*d.Stride-d.Pad+p, j*d.Stride-d.Pad+q
								if r < 0 || r >= d.InH || col < 0 || col >= d.InW {
									continue
								}
								s += float64(w[((o*d.InC+c)*d.KH+p)*d.KW+q]) * float64(x[((n*d.InC+c)*d.InH+r)*d.InW+col])
							}
						}
					}
					y[((n*d.OutC+o)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return y
}

// convBackRef computes the gradients of Conv2d in float64 by scattering dy
// back along the same loops.
func convBackRef(dy, x, w []float32, d Conv2d) (dx, dw, db []float64) {
	oh, ow := d.OutH(), d.OutW()
	dx, dw, db = make([]float64, d.InLen()), make([]float64, d.WeightLen()), make([]float64, d.OutC)
	for n := range d.Batch {
		for o := range d.OutC {
			for i := range oh {
				for j := range ow {
					g := float64(dy[((n*d.OutC+o)*oh+i)*ow+j])
					db[o] += g
					for c := range d.InC {
						for p := range d.KH {
							for q := range d.KW {
								r, col := i*d.Stride-d.Pad+p, j*d.Stride-d.Pad+q
								if r < 0 || r >= d.InH || col < 0 || col >= d.InW {
									continue
								}
								wi, xi := ((o*d.InC+c)*d.KH+p)*d.KW+q, ((n*d.InC+c)*d.InH+r)*d.InW+col
								dw[wi] += g * float64(x[xi])
								dx[xi] += g * float64(w[wi])
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}

// compare fails t unless got is within tol (relative, floor 1) of want.
func compare(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i, v := range want {
		if e := relErr(float64(got[i]), v); e > tol || e != e {
			t.Errorf("%s[%d] = %v, want %v (error %.3g > %.3g)", what, i, got[i], v, e, tol)
			return
		}
	}
}

// plus returns prior + delta in float64: what an accumulating Backward
// should leave in a gradient that held prior.
func plus(prior []float32, delta []float64) []float64 {
	out := make([]float64, len(delta))
	for i := range delta {
		out[i] = float64(prior[i]) + delta[i]
	}
	return out
}

func TestConv2dMatchesReference(t *testing.T) {
	for k, d := range convCases {
		t.Run(fmt.Sprintf("%+v", d), func(t *testing.T) {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			x, w, b := randNormal(rng, d.InLen()), randNormal(rng, d.WeightLen()), randNormal(rng, d.OutC)
			col := randNormal(rng, d.ColLen()) // garbage: overwritten
			y := randNormal(rng, d.OutLen())
			for _, bias := range [][]float32{b, nil} {
				Conv2dForward(y, x, w, bias, col, d)
				compare(t, "y", y, convRef(x, w, bias, d), convTol)
			}

			dy := randNormal(rng, d.OutLen())
			dx, dw, db := randNormal(rng, d.InLen()), randNormal(rng, d.WeightLen()), randNormal(rng, d.OutC)
			dx0, dw0, db0 := slices.Clone(dx), slices.Clone(dw), slices.Clone(db)
			Conv2dBackward(dx, dw, db, dy, x, w, col, d)
			rdx, rdw, rdb := convBackRef(dy, x, w, d)
			compare(t, "dx", dx, plus(dx0, rdx), convTol)
			compare(t, "dw", dw, plus(dw0, rdw), convTol)
			compare(t, "db", db, plus(db0, rdb), convTol)

			// Each gradient alone gives the same values.
			only := func(which int) []float32 {
				bufs := [3][]float32{nil, nil, nil}
				bufs[which] = slices.Clone([][]float32{dx0, dw0, db0}[which])
				Conv2dBackward(bufs[0], bufs[1], bufs[2], dy, x, w, col, d)
				return bufs[which]
			}
			for which, want := range [][]float32{dx, dw, db} {
				if got := only(which); !slices.Equal(got, want) {
					t.Errorf("gradient %d computed alone differs", which)
				}
			}
			if t.Failed() {
				t.Logf("seed %d", seed)
			}
		})
	}
}

func TestConv2dGradCheck(t *testing.T) {
	for k, d := range convCases[:4] {
		seed := uint64(k + 10)
		rng := rand.New(rand.NewPCG(seed, seed))
		x, w, b := randNormal(rng, d.InLen()), randNormal(rng, d.WeightLen()), randNormal(rng, d.OutC)
		col, y, g := make([]float32, d.ColLen()), make([]float32, d.OutLen()), randNormal(rng, d.OutLen())
		dx, dw, db := make([]float32, d.InLen()), make([]float32, d.WeightLen()), make([]float32, d.OutC)
		Conv2dBackward(dx, dw, db, g, x, w, col, d)
		loss := func() float64 {
			Conv2dForward(y, x, w, b, col, d)
			return tensor.Dot(g, y)
		}
		checkGrad(t, seed, "x", x, To64(dx), loss, linearGradTol)
		checkGrad(t, seed, "w", w, To64(dw), loss, linearGradTol)
		checkGrad(t, seed, "b", b, To64(db), loss, linearGradTol)
	}
}

// convTransposeRef computes ConvTranspose2d in float64 by its definition:
// every input value scatters its kernel-weighted copy into the output.
func convTransposeRef(x, w, b []float32, d ConvTranspose2d) []float64 {
	oh, ow := d.OutH(), d.OutW()
	y := make([]float64, d.OutLen())
	for n := range d.Batch {
		for o := range d.OutC {
			for i := range oh * ow {
				if b != nil {
					y[(n*d.OutC+o)*oh*ow+i] = float64(b[o])
				}
			}
		}
		for c := range d.InC {
			for i := range d.InH {
				for j := range d.InW {
					v := float64(x[((n*d.InC+c)*d.InH+i)*d.InW+j])
					for o := range d.OutC {
						for p := range d.KH {
							for q := range d.KW {
								r, col := i*d.Stride-d.Pad+p, j*d.Stride-d.Pad+q
								if r < 0 || r >= oh || col < 0 || col >= ow {
									continue
								}
								y[((n*d.OutC+o)*oh+r)*ow+col] += v * float64(w[((c*d.OutC+o)*d.KH+p)*d.KW+q])
							}
						}
					}
				}
			}
		}
	}
	return y
}

var convTransposeCases = []ConvTranspose2d{
	{Batch: 2, InC: 3, InH: 4, InW: 3, OutC: 2, KH: 4, KW: 4, Stride: 2, Pad: 1}, // DCGAN's 7→14 upsampling
	{Batch: 1, InC: 2, InH: 3, InW: 3, OutC: 3, KH: 3, KW: 3, Stride: 2, Pad: 1, OutPad: 1},
	{Batch: 2, InC: 4, InH: 2, InW: 5, OutC: 3, KH: 1, KW: 1, Stride: 1, Pad: 0},
	{Batch: 1, InC: 2, InH: 1, InW: 1, OutC: 3, KH: 7, KW: 7, Stride: 1, Pad: 0}, // a latent vector to 7×7
	{Batch: 2, InC: 2, InH: 3, InW: 2, OutC: 2, KH: 2, KW: 3, Stride: 3, Pad: 0, OutPad: 2},
	{Batch: 2, InC: 2, InH: 4, InW: 5, OutC: 3, KH: 3, KW: 3, Stride: 1, Pad: 1}, // same width
}

func TestConvTranspose2d(t *testing.T) {
	for k, d := range convTransposeCases {
		t.Run(fmt.Sprintf("%+v", d), func(t *testing.T) {
			seed := uint64(k + 20)
			rng := rand.New(rand.NewPCG(seed, seed))
			x, w, b := randNormal(rng, d.InLen()), randNormal(rng, d.WeightLen()), randNormal(rng, d.OutC)
			col, y := randNormal(rng, d.ColLen()), randNormal(rng, d.OutLen())
			for _, bias := range [][]float32{b, nil} {
				ConvTranspose2dForward(y, x, w, bias, col, d)
				compare(t, "y", y, convTransposeRef(x, w, bias, d), convTol)
			}

			// Adjointness: ⟨convT(x), u⟩ = ⟨x, conv(u)⟩ for the convolution
			// with the same kernel, stride and padding, whose weight
			// [OutC_conv = InC, InC_conv = OutC, KH, KW] is the same memory.
			u := randNormal(rng, d.OutLen())
			ConvTranspose2dForward(y, x, w, nil, col, d)
			cd := Conv2d{Batch: d.Batch, InC: d.OutC, InH: d.OutH(), InW: d.OutW(), OutC: d.InC, KH: d.KH, KW: d.KW, Stride: d.Stride, Pad: d.Pad}
			if cd.OutH() != d.InH || cd.OutW() != d.InW {
				t.Fatalf("adjoint convolution maps to %d×%d, want %d×%d", cd.OutH(), cd.OutW(), d.InH, d.InW)
			}
			cu := make([]float32, cd.OutLen())
			Conv2dForward(cu, u, w, nil, make([]float32, cd.ColLen()), cd)
			if l, r := tensor.Dot(y, u), tensor.Dot(x, cu); relErr(l, r) > convTol*10 {
				t.Errorf("⟨convT(x), u⟩ = %v, ⟨x, conv(u)⟩ = %v", l, r)
			}

			g := randNormal(rng, d.OutLen())
			dx, dw, db := make([]float32, d.InLen()), make([]float32, d.WeightLen()), make([]float32, d.OutC)
			ConvTranspose2dBackward(dx, dw, db, g, x, w, col, d)
			loss := func() float64 {
				ConvTranspose2dForward(y, x, w, b, col, d)
				return tensor.Dot(g, y)
			}
			checkGrad(t, seed, "x", x, To64(dx), loss, linearGradTol)
			checkGrad(t, seed, "w", w, To64(dw), loss, linearGradTol)
			checkGrad(t, seed, "b", b, To64(db), loss, linearGradTol)
		})
	}
}

func TestConvShapePanics(t *testing.T) {
	d := convCases[0]
	x, w, y := make([]float32, d.InLen()), make([]float32, d.WeightLen()), make([]float32, d.OutLen())
	col := make([]float32, d.ColLen())
	wantShapePanic(t, "short y", func() { Conv2dForward(y[1:], x, w, nil, col, d) })
	wantShapePanic(t, "short col", func() { Conv2dForward(y, x, w, nil, col[1:], d) })
	wantShapePanic(t, "short bias", func() { Conv2dForward(y, x, w, []float32{1}, col, d) })
	wantShapePanic(t, "kernel larger than padded image", func() {
		Conv2dForward(y, x, w, nil, col, Conv2d{Batch: 1, InC: 1, InH: 2, InW: 2, OutC: 1, KH: 5, KW: 1, Stride: 1})
	})
	wantShapePanic(t, "stride 0", func() {
		Conv2dForward(y, x, w, nil, col, Conv2d{Batch: 1, InC: 1, InH: 2, InW: 2, OutC: 1, KH: 1, KW: 1})
	})
	wantShapePanic(t, "short dx", func() { Conv2dBackward(x[1:], nil, nil, y, x, w, col, d) })
	td := convTransposeCases[0]
	wantShapePanic(t, "output padding ≥ stride", func() {
		bad := td
		bad.OutPad = bad.Stride
		ConvTranspose2dForward(make([]float32, 1000), make([]float32, 1000), make([]float32, 1000), nil, make([]float32, 1000), bad)
	})
}

// BenchmarkConv2d times forward and backward of the Fashion-MNIST
// classifier's two convolutions on one shard of 64 images.
func BenchmarkConv2d(b *testing.B) {
	for _, d := range []Conv2d{
		{Batch: 64, InC: 1, InH: 28, InW: 28, OutC: 16, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{Batch: 64, InC: 16, InH: 14, InW: 14, OutC: 32, KH: 3, KW: 3, Stride: 1, Pad: 1},
	} {
		rng := rand.New(rand.NewPCG(1, 1))
		x, w, bias := randNormal(rng, d.InLen()), randNormal(rng, d.WeightLen()), randNormal(rng, d.OutC)
		y, dy, dx := make([]float32, d.OutLen()), randNormal(rng, d.OutLen()), make([]float32, d.InLen())
		dw, db, col := make([]float32, d.WeightLen()), make([]float32, d.OutC), make([]float32, d.ColLen())
		flops := 2 * float64(d.OutLen()) * float64(d.InC*d.KH*d.KW)
		name := fmt.Sprintf("in=%dx%dx%d/out=%d/batch=%d", d.InC, d.InH, d.InW, d.OutC, d.Batch)
		b.Run(name+"/forward", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Conv2dForward(y, x, w, bias, col, d)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/backward", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Conv2dBackward(dx, dw, db, dy, x, w, col, d)
			}
			b.ReportMetric(2*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestVisionLayersAllocateNothing proves the nn conventions for the layers
// of this file's siblings: forward+backward on buffers laid out beforehand
// allocate zero bytes.
func TestVisionLayersAllocateNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	cd, td, pd := convCases[0], convTransposeCases[0], poolCases[2]
	bd := BatchNorm{Batch: 4, C: 3, Spatial: 6, Eps: bnEps, Training: true}
	buf := func(n int) []float32 { return randNormal(rng, n) }
	x, w, b, col, y, dy := buf(cd.InLen()), buf(cd.WeightLen()), buf(cd.OutC), buf(cd.ColLen()), buf(cd.OutLen()), buf(cd.OutLen())
	dx, dw, db := buf(cd.InLen()), buf(cd.WeightLen()), buf(cd.OutC)
	tx, tw, tcol, ty := buf(td.InLen()), buf(td.WeightLen()), buf(td.ColLen()), buf(td.OutLen())
	tdx, tdw := buf(td.InLen()), buf(td.WeightLen())
	px, py, pidx, pdx := buf(pd.InLen()), buf(pd.OutLen()), make([]int32, pd.OutLen()), buf(pd.InLen())
	bx, by, bh, bdx, bdy := buf(bd.Len()), buf(bd.Len()), buf(bd.Len()), buf(bd.Len()), buf(bd.Len())
	mean, variance, gamma, beta, dgamma, dbeta := buf(3), buf(3), buf(3), buf(3), buf(3), buf(3)
	drng := rand.New(rand.NewPCG(2, 2))
	steps := map[string]func(){
		"Conv2d": func() {
			Conv2dForward(y, x, w, b, col, cd)
			Conv2dBackward(dx, dw, db, dy, x, w, col, cd)
		},
		"ConvTranspose2d": func() {
			ConvTranspose2dForward(ty, tx, tw, b[:td.OutC], tcol, td)
			ConvTranspose2dBackward(tdx, tdw, db[:td.OutC], ty, tx, tw, tcol, td)
		},
		"Pool2d": func() {
			MaxPool2dForward(py, pidx, px, pd)
			MaxPool2dBackward(pdx, py, pidx, pd)
			AvgPool2dForward(py, px, pd)
			AvgPool2dBackward(pdx, py, pd)
		},
		"BatchNorm": func() {
			BatchNormForward(by, bh, mean, variance, bx, gamma, beta, bd)
			BatchNormBackward(bdx, dgamma, dbeta, bdy, bh, variance, gamma, bd)
			BatchNormAffineBackward(bdy, dgamma, dbeta, by, bh, gamma, bd)
			BatchNormNormalizeBackward(bdx, bdy, bx, mean, variance, bd)
			BatchNormUpdateRunning(gamma, beta, mean, variance, bd.Count(), 0.1)
		},
		"Dropout": func() {
			DropoutMask(bh, 0.5, drng)
			DropoutForward(by, bx, bh, 0.5)
			DropoutBackward(bdx, bdy, bh, 0.5)
		},
		"Pointwise": func() {
			LeakyReLUForward(by, bx, 0.2)
			LeakyReLUBackward(bdx, bdy, bx, 0.2)
			TanhForward(by, bx)
			TanhBackward(bdx, bdy, by)
			SigmoidForward(by, bx)
			SigmoidBackward(bdx, bdy, by)
		},
		"Losses": func() {
			BCEWithLogitsForward(bx, by, nil)
			BCEWithLogitsBackward(bdx, bx, by, bh, 1)
			GANDiscriminatorLoss(bdx, bdy, bx, by, 1)
			GANNonSaturatingGeneratorLoss(bdy, by, 1)
			WassersteinCriticLoss(bdx, bdy, bx, by, 1)
			ClipWeights(bx, 0.01)
		},
	}
	for name, step := range steps {
		if allocs := testing.AllocsPerRun(5, step); allocs != 0 {
			t.Errorf("%s forward+backward: %v allocations per run, want 0", name, allocs)
		}
	}
}
