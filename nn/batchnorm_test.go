package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// bnEps is PyTorch's default ε.
const bnEps = 1e-5

var bnCases = []BatchNorm{
	{Batch: 4, C: 3, Spatial: 6, Eps: bnEps, Training: true}, // BatchNorm2d on 2×3 images
	{Batch: 5, C: 4, Spatial: 1, Eps: bnEps, Training: true}, // BatchNorm1d on [N, C]
	{Batch: 2, C: 2, Spatial: 9, Eps: bnEps, Training: true},
	{Batch: 3, C: 3, Spatial: 4, Eps: bnEps}, // evaluation: running statistics
	{Batch: 1, C: 2, Spatial: 5, Eps: 1e-3},  // evaluation on one image
	{Batch: 1, C: 2, Spatial: 1, Eps: bnEps}, // evaluation on one value per channel
	{Batch: 2, C: 1, Spatial: 1, Eps: 1e-1, Training: true},
}

// bnRef computes BatchNorm in float64: the statistics (batch or given) and y.
func bnRef(x, gamma, beta, runMean, runVar []float32, d BatchNorm) (y, mean, variance []float64) {
	y, mean, variance = make([]float64, d.Len()), make([]float64, d.C), make([]float64, d.C)
	m := float64(d.Count())
	for c := range d.C {
		if d.Training {
			for n := range d.Batch {
				for _, v := range d.channel(x, n, c) {
					mean[c] += float64(v) / m
				}
			}
			for n := range d.Batch {
				for _, v := range d.channel(x, n, c) {
					variance[c] += (float64(v) - mean[c]) * (float64(v) - mean[c]) / m
				}
			}
		} else {
			mean[c], variance[c] = float64(runMean[c]), float64(runVar[c])
		}
		for n := range d.Batch {
			for i, v := range d.channel(x, n, c) {
				o := (n*d.C+c)*d.Spatial + i
				y[o] = (float64(v)-mean[c])/math.Sqrt(variance[c]+float64(d.Eps))*float64(gamma[c]) + float64(beta[c])
			}
		}
	}
	return y, mean, variance
}

func TestBatchNorm(t *testing.T) {
	for k, d := range bnCases {
		t.Run(fmt.Sprintf("%+v", d), func(t *testing.T) {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			x := randNormal(rng, d.Len())
			for i := range x {
				x[i] = 3*x[i] + 5 // a mean far from 0 and a variance far from 1
			}
			gamma, beta := randNormal(rng, d.C), randNormal(rng, d.C)
			runMean, runVar := randNormal(rng, d.C), make([]float32, d.C)
			for c := range runVar {
				runMean[c] += 5
				runVar[c] = 5 + rng.Float32()*5
			}
			mean, variance := slices.Clone(runMean), slices.Clone(runVar)
			y, xhat := make([]float32, d.Len()), make([]float32, d.Len())
			BatchNormForward(y, xhat, mean, variance, x, gamma, beta, d)
			wantY, wantMean, wantVar := bnRef(x, gamma, beta, runMean, runVar, d)
			compare(t, "y", y, wantY, bnForwardTol)
			compare(t, "mean", mean, wantMean, forwardTol)
			compare(t, "variance", variance, wantVar, forwardTol)
			if d.Training && d.Count() > 1 {
				checkNormalizedChannels(t, xhat, variance, d)
			}

			// Affine off equals γ = 1, β = 0.
			ones, zeros := make([]float32, d.C), make([]float32, d.C)
			for c := range ones {
				ones[c] = 1
			}
			y1, y2 := make([]float32, d.Len()), make([]float32, d.Len())
			BatchNormForward(y1, xhat, mean, variance, x, nil, nil, d)
			BatchNormForward(y2, xhat, mean, variance, x, ones, zeros, d)
			if !slices.Equal(y1, y2) {
				t.Error("nil γ, β differ from γ = 1, β = 0")
			}

			// Gradients of Σ g⊙y with respect to x, γ and β.
			g := randNormal(rng, d.Len())
			BatchNormForward(y, xhat, mean, variance, x, gamma, beta, d)
			dx, dgamma, dbeta := randNormal(rng, d.Len()), randNormal(rng, d.C), randNormal(rng, d.C)
			dx0, dgamma0, dbeta0 := slices.Clone(dx), slices.Clone(dgamma), slices.Clone(dbeta)
			BatchNormBackward(dx, dgamma, dbeta, g, xhat, variance, gamma, d)
			loss := func() float64 {
				m, v := slices.Clone(runMean), slices.Clone(runVar)
				BatchNormForward(y, xhat, m, v, x, gamma, beta, d)
				return tensor.Dot(g, y)
			}
			checkGrad(t, seed, "x", x, added(dx, dx0), loss, bnGradTol)
			checkGrad(t, seed, "γ", gamma, added(dgamma, dgamma0), loss, bnGradTol)
			checkGrad(t, seed, "β", beta, added(dbeta, dbeta0), loss, linearGradTol)

			// The split backward (for hooks on x̂) gives the same gradients.
			BatchNormForward(y, xhat, mean, variance, x, gamma, beta, d)
			sdx, sdgamma, sdbeta := slices.Clone(dx0), slices.Clone(dgamma0), slices.Clone(dbeta0)
			dxhat := make([]float32, d.Len())
			BatchNormAffineBackward(dxhat, sdgamma, sdbeta, g, xhat, gamma, d)
			BatchNormNormalizeBackward(sdx, dxhat, x, mean, variance, d)
			compare(t, "split dx", sdx, To64(dx), bnSplitTol)
			compare(t, "split dγ", sdgamma, To64(dgamma), bnSplitTol)
			compare(t, "split dβ", sdbeta, To64(dbeta), 0)

			// The normalize backward recomputes x̂ from x: an edit to the
			// saved x̂ does not change it.
			for i := range xhat {
				xhat[i] = 0
			}
			edx := slices.Clone(dx0)
			BatchNormNormalizeBackward(edx, dxhat, x, mean, variance, d)
			if !slices.Equal(edx, sdx) {
				t.Error("normalize backward read the edited x̂")
			}
			if t.Failed() {
				t.Logf("seed %d", seed)
			}
		})
	}
}

// Tolerances of the BatchNorm tests.
const (
	// bnForwardTol: y involves x − mean with |mean| ≈ 5 ≫ σ ≈ 3 gone through
	// float32 once, ≈ 1e-7·5/3 relative, then the float32 scale and shift.
	bnForwardTol = 5e-6
	// bnGradTol: training-mode BatchNorm couples all M values of a channel;
	// its third derivatives grow like 1/σ³ (σ ≈ 3 here) times M-fold sums,
	// so the O(h²) truncation error of the central difference is a few
	// times that of the elementwise layers (smoothGradTol).
	bnGradTol = 1e-3
	// bnSplitTol: the split backward recomputes x̂ in float32 and sums in a
	// different order from the fused one.
	bnSplitTol = 1e-5
)

// checkNormalizedChannels checks that every channel of x̂ has mean 0 and
// (biased) variance σ²/(σ² + ε) ≈ 1, given the batch variances σ².
func checkNormalizedChannels(t *testing.T, xhat, variance []float32, d BatchNorm) {
	t.Helper()
	for c := range d.C {
		var vals []float32
		for n := range d.Batch {
			vals = append(vals, d.channel(xhat, n, c)...)
		}
		m, v := tensor.MeanVar(vals)
		want := float64(variance[c]) / (float64(variance[c]) + float64(d.Eps))
		if math.Abs(m) > 1e-5 || math.Abs(v-want) > 1e-5 {
			t.Errorf("channel %d of x̂: mean %v, variance %v, want 0 and %v", c, m, v, want)
		}
	}
}

func TestBatchNormUpdateRunning(t *testing.T) {
	runMean, runVar := []float32{0, 1}, []float32{1, 2}
	BatchNormUpdateRunning(runMean, runVar, []float32{10, -1}, []float32{4, 0}, 5, 0.1)
	// PyTorch: running = 0.9·running + 0.1·stat, variance unbiased by 5/4.
	want := []float32{0.9*0 + 0.1*10, 0.9*1 + 0.1*-1, 0.9*1 + 0.1*4*1.25, 0.9 * 2}
	got := []float32{runMean[0], runMean[1], runVar[0], runVar[1]}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("running statistics %v, want %v", got, want)
			break
		}
	}
	wantShapePanic(t, "short running variance", func() {
		BatchNormUpdateRunning(runMean, runVar[:1], runMean, runVar, 5, 0.1)
	})
}

func TestBatchNormShapePanics(t *testing.T) {
	d := bnCases[0]
	x, y, xhat := make([]float32, d.Len()), make([]float32, d.Len()), make([]float32, d.Len())
	mean, variance := make([]float32, d.C), make([]float32, d.C)
	wantShapePanic(t, "short y", func() { BatchNormForward(y[1:], xhat, mean, variance, x, nil, nil, d) })
	wantShapePanic(t, "short mean", func() { BatchNormForward(y, xhat, mean[1:], variance, x, nil, nil, d) })
	wantShapePanic(t, "short γ", func() { BatchNormForward(y, xhat, mean, variance, x, mean[1:], nil, d) })
	wantShapePanic(t, "nil xhat", func() { BatchNormBackward(x, nil, nil, y, nil, variance, nil, d) })
	wantShapePanic(t, "training on no images", func() {
		BatchNormForward(nil, nil, mean, variance, nil, nil, nil, BatchNorm{C: 3, Spatial: 1, Training: true})
	})
}

// BenchmarkBatchNorm times training-mode forward and backward of the
// classifier's first BatchNorm on one shard of 64 images.
func BenchmarkBatchNorm(b *testing.B) {
	d := BatchNorm{Batch: 64, C: 16, Spatial: 28 * 28, Eps: bnEps, Training: true}
	rng := rand.New(rand.NewPCG(1, 1))
	x, y, xhat, dy, dx := randNormal(rng, d.Len()), make([]float32, d.Len()), make([]float32, d.Len()), randNormal(rng, d.Len()), make([]float32, d.Len())
	gamma, beta, mean, variance, dg, db := randNormal(rng, d.C), randNormal(rng, d.C), make([]float32, d.C), make([]float32, d.C), make([]float32, d.C), make([]float32, d.C)
	name := fmt.Sprintf("batch=%d/C=%d/spatial=%d", d.Batch, d.C, d.Spatial)
	b.Run(name+"/forward", func(b *testing.B) {
		for b.Loop() {
			BatchNormForward(y, xhat, mean, variance, x, gamma, beta, d)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*d.Len()), "ns/value")
	})
	b.Run(name+"/backward", func(b *testing.B) {
		for b.Loop() {
			BatchNormBackward(dx, dg, db, dy, xhat, variance, gamma, d)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*d.Len()), "ns/value")
	})
}
