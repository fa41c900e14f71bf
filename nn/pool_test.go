package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

var poolCases = []Pool2d{
	{Batch: 2, C: 3, H: 6, W: 4, KH: 2, KW: 2, Stride: 2},         // the classifier's pooling
	{Batch: 1, C: 2, H: 7, W: 5, KH: 2, KW: 2, Stride: 2},         // odd sizes drop the last row and column
	{Batch: 2, C: 2, H: 5, W: 6, KH: 3, KW: 3, Stride: 2, Pad: 1}, // ResNet-style overlapping, padded
	{Batch: 1, C: 3, H: 4, W: 7, KH: 2, KW: 3, Stride: 1},         // non-square window
	{Batch: 2, C: 2, H: 7, W: 7, KH: 7, KW: 7, Stride: 1},         // global pooling
}

// poolRef computes max and average pooling in float64 by definition;
// argmax is the first maximum's plane index.
func poolRef(x []float32, d Pool2d) (maxY, avgY []float64, argmax []int) {
	oh, ow := d.OutH(), d.OutW()
	for p := range d.Batch * d.C {
		for i := range oh {
			for j := range ow {
				best, at, sum := math.Inf(-1), -1, 0.0
				for r := i*d.Stride - d.Pad; r < i*d.Stride-d.Pad+d.KH; r++ {
					for c := j*d.Stride - d.Pad; c < j*d.Stride-d.Pad+d.KW; c++ {
						if r < 0 || r >= d.H || c < 0 || c >= d.W {
							continue
						}
						v := float64(x[p*d.H*d.W+r*d.W+c])
						sum += v
						if v > best {
							best, at = v, r*d.W+c
						}
					}
				}
				maxY, avgY, argmax = append(maxY, best), append(avgY, sum/float64(d.KH*d.KW)), append(argmax, at)
			}
		}
	}
	return maxY, avgY, argmax
}

// distinctInputs returns n values spaced 0.05 apart in random order, so
// that a central difference of step GradCheckStep never changes which
// element of a window is the maximum.
func distinctInputs(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i, p := range rng.Perm(n) {
		x[i] = float32(p)*0.05 - float32(n)*0.025
	}
	return x
}

func TestPool2d(t *testing.T) {
	for k, d := range poolCases {
		t.Run(fmt.Sprintf("%+v", d), func(t *testing.T) {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			x := distinctInputs(rng, d.InLen())
			y, idx := randNormal(rng, d.OutLen()), make([]int32, d.OutLen())
			wantMax, wantAvg, wantArg := poolRef(x, d)
			MaxPool2dForward(y, idx, x, d)
			compare(t, "max", y, wantMax, 0)
			for i, a := range wantArg {
				if int(idx[i]) != a {
					t.Fatalf("argmax[%d] = %d, want %d", i, idx[i], a)
				}
			}
			AvgPool2dForward(y, x, d)
			compare(t, "avg", y, wantAvg, forwardTol)

			g := randNormal(rng, d.OutLen())
			dx := make([]float32, d.InLen())
			MaxPool2dForward(y, idx, x, d)
			MaxPool2dBackward(dx, g, idx, d)
			checkGrad(t, seed, "max x", x, To64(dx), func() float64 {
				MaxPool2dForward(y, idx, x, d)
				return tensor.Dot(g, y)
			}, linearGradTol)
			clear(dx)
			AvgPool2dBackward(dx, g, d)
			checkGrad(t, seed, "avg x", x, To64(dx), func() float64 {
				AvgPool2dForward(y, x, d)
				return tensor.Dot(g, y)
			}, linearGradTol)
			MaxPool2dBackward(nil, g, idx, d) // nil dx is skipped
			AvgPool2dBackward(nil, g, d)
		})
	}
}

func TestMaxPoolTiesAndNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, d := range []Pool2d{
		{Batch: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2, Stride: 2}, // the 2×2 fast path
		{Batch: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2, Stride: 1}, // the general path
	} {
		tests := []struct {
			x    []float32
			want int32
		}{
			{[]float32{1, 3, 3, 2}, 1},     // first of tied maxima
			{[]float32{1, nan, 5, nan}, 1}, // first NaN wins
			{[]float32{nan, 9, 9, 9}, 0},
			{[]float32{-1, -1, -1, -1}, 0},
		}
		for _, tt := range tests {
			y, idx := make([]float32, 1), make([]int32, 1)
			MaxPool2dForward(y, idx, tt.x, d)
			if idx[0] != tt.want {
				t.Errorf("stride %d, x %v: argmax %d, want %d", d.Stride, tt.x, idx[0], tt.want)
			}
			if v := tt.x[tt.want]; y[0] != v && !(v != v && y[0] != y[0]) {
				t.Errorf("stride %d, x %v: max %v, want %v", d.Stride, tt.x, y[0], v)
			}
		}
	}
}

func TestPoolShapePanics(t *testing.T) {
	d := poolCases[0]
	x, y, idx := make([]float32, d.InLen()), make([]float32, d.OutLen()), make([]int32, d.OutLen())
	wantShapePanic(t, "short y", func() { MaxPool2dForward(y[1:], idx, x, d) })
	wantShapePanic(t, "short idx", func() { MaxPool2dForward(y, idx[1:], x, d) })
	wantShapePanic(t, "short x", func() { AvgPool2dForward(y, x[1:], d) })
	wantShapePanic(t, "padding over half the window", func() {
		bad := d
		bad.Pad = 2
		AvgPool2dForward(y, x, bad)
	})
	wantShapePanic(t, "short dx", func() { MaxPool2dBackward(x[1:], y, idx, d) })
	if !slices.Equal(x, make([]float32, d.InLen())) {
		t.Error("a panicking call wrote to x")
	}
}
