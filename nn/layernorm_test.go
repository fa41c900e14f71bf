package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// normInvariantTol bounds the deviation of a row's mean (from 0) and of its
// mean square after normalisation (from v/(v+eps), v the row's variance or
// mean square) in float32 outputs of magnitude O(1): a few ulps summed over d.
const normInvariantTol = 2e-7

// normEps is TransformerLens's default eps.
const normEps = 1e-5

// normKind names the four TransformerLens normalisations.
type normKind int

const (
	kindLN normKind = iota
	kindLNPre
	kindRMS
	kindRMSPre
)

func (k normKind) String() string { return [...]string{"LN", "LNPre", "RMS", "RMSPre"}[k] }

func (k normKind) centred() bool { return k == kindLN || k == kindLNPre }
func (k normKind) affine() bool  { return k == kindLN || k == kindRMS }

// normForward runs the kind's forward.
func normForward(k normKind, y, scale, x, w, b []float32, rows, d int) {
	if k.centred() {
		LayerNormForward(y, scale, x, w, b, rows, d, normEps)
	} else {
		RMSNormForward(y, scale, x, w, rows, d, normEps)
	}
}

// normBackward runs the kind's backward.
func normBackward(k normKind, dx, dw, db, dy, x, scale, w []float32, rows, d int) {
	if k.centred() {
		LayerNormBackward(dx, dw, db, dy, x, scale, w, rows, d)
	} else {
		RMSNormBackward(dx, dw, dy, x, scale, w, rows, d)
	}
}

// normRef is the float64 reference: y and scale of one row.
func normRef(k normKind, x, w, b []float32) (y []float64, scale float64) {
	var mean float64
	if k.centred() {
		mean = tensor.Sum(x) / float64(len(x))
	}
	var ss float64
	for _, v := range x {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	scale = math.Sqrt(ss/float64(len(x)) + normEps)
	y = make([]float64, len(x))
	for j, v := range x {
		y[j] = (float64(v) - mean) / scale
		if w != nil {
			y[j] = y[j]*float64(w[j]) + float64(b[j]) // b is [d] zeros for RMS
		}
	}
	return y, scale
}

func TestNorm(t *testing.T) {
	shapes := []struct {
		rows, d int
		offset  float32 // added to x: large offsets test the float64 statistics
	}{
		{1, 2, 0},
		{3, 5, 0},
		{4, 8, 3},
		{2, 13, -1},
		{3, 64, 0},
		{2, 7, 1000},
	}
	for _, k := range []normKind{kindLN, kindLNPre, kindRMS, kindRMSPre} {
		for s, sh := range shapes {
			t.Run(fmt.Sprintf("%v/rows=%d/d=%d/offset=%g", k, sh.rows, sh.d, sh.offset), func(t *testing.T) {
				seed := uint64(s + 1)
				rng := rand.New(rand.NewPCG(seed, seed))
				rows, d := sh.rows, sh.d
				x := randNormal(rng, rows*d)
				for i := range x {
					x[i] += sh.offset
				}
				var w, b, dw, db []float32
				if k.affine() {
					w, dw = randNormal(rng, d), randNormal(rng, d)
					b, db = make([]float32, d), randNormal(rng, d)
					if k == kindLN {
						b = randNormal(rng, d)
					}
				}
				var bArg, dbArg []float32
				if k == kindLN {
					bArg, dbArg = b, db
				}
				y, scale := make([]float32, rows*d), make([]float32, rows)
				normForward(k, y, scale, x, w, bArg, rows, d)

				for i := range rows {
					xi := x[i*d : (i+1)*d]
					wantY, wantScale := normRef(k, xi, w, b)
					if e := relErr(float64(scale[i]), wantScale); e > forwardTol {
						t.Errorf("seed %d: scale[%d] = %v, want %v", seed, i, scale[i], wantScale)
					}
					for j := range d {
						if e := relErr(float64(y[i*d+j]), wantY[j]); e > forwardTol {
							t.Errorf("seed %d: y[%d,%d] = %v, want %v", seed, i, j, y[i*d+j], wantY[j])
						}
					}
					if !k.affine() {
						checkNormalized(t, k, y[i*d:(i+1)*d], xi)
					}
				}

				// In place (y aliasing x) gives the same result.
				inPlace, scale2 := slices.Clone(x), make([]float32, rows)
				normForward(k, inPlace, scale2, inPlace, w, bArg, rows, d)
				if !slices.Equal(inPlace, y) || !slices.Equal(scale2, scale) {
					t.Errorf("seed %d: in-place forward differs", seed)
				}

				if d < 2 || sh.offset > 100 {
					return // a constant row's gradient is degenerate; an offset of 1000 drowns h = 1e-2 in rounding
				}
				g := randNormal(rng, rows*d)
				dx := randNormal(rng, rows*d)
				dx0, dw0, db0 := slices.Clone(dx), slices.Clone(dw), slices.Clone(dbArg)
				normBackward(k, dx, dw, dbArg, g, x, scale, w, rows, d)
				loss := func() float64 {
					normForward(k, y, scale, x, w, bArg, rows, d)
					return tensor.Dot(g, y)
				}
				checkGrad(t, seed, "x", x, added(dx, dx0), loss, smoothGradTol)
				if w != nil {
					checkGrad(t, seed, "w", w, added(dw, dw0), loss, linearGradTol)
				}
				if bArg != nil {
					checkGrad(t, seed, "b", bArg, added(dbArg, db0), loss, linearGradTol)
				}
				normForward(k, y, scale, x, w, bArg, rows, d) // restore scale

				// A nil dx is skipped and leaves the parameter gradients unchanged.
				if w != nil {
					dw2, db2 := slices.Clone(dw0), slices.Clone(db0)
					normBackward(k, nil, dw2, db2, g, x, scale, w, rows, d)
					if !slices.Equal(dw2, dw) || !slices.Equal(db2, dbArg) {
						t.Errorf("seed %d: parameter gradients with nil dx differ", seed)
					}
				}
			})
		}
	}
}

// checkNormalized checks the invariants of a Pre normalisation of the row x:
// LNPre's output has mean 0 and biased variance v/(v+eps); RMSPre's has mean
// square ms/(ms+eps).
func checkNormalized(t *testing.T, k normKind, y, x []float32) {
	t.Helper()
	n := float64(len(y))
	mean, variance := tensor.MeanVar(y)
	_, xVar := tensor.MeanVar(x)
	if !k.centred() {
		variance = tensor.Dot(y, y) / n
		xVar = tensor.Dot(x, x) / n
		mean = 0
	}
	if math.Abs(mean) > normInvariantTol {
		t.Errorf("%v of %v: output mean %g, want 0", k, x, mean)
	}
	if want := xVar / (xVar + normEps); math.Abs(variance-want) > normInvariantTol {
		t.Errorf("%v of %v: output variance %.9g, want %.9g", k, x, variance, want)
	}
}

func TestNormShapePanics(t *testing.T) {
	x, y, s := make([]float32, 6), make([]float32, 6), make([]float32, 2)
	wantShapePanic(t, "short scale", func() { LayerNormForward(y, s[:1], x, nil, nil, 2, 3, normEps) })
	wantShapePanic(t, "short w", func() { LayerNormForward(y, s, x, s, nil, 2, 3, normEps) })
	wantShapePanic(t, "short y", func() { RMSNormForward(y[:5], s, x, nil, 2, 3, normEps) })
	wantShapePanic(t, "short dx", func() { LayerNormBackward(y[:5], nil, nil, y, x, s, nil, 2, 3) })
	wantShapePanic(t, "zero d", func() { LayerNormForward(y, s, x, nil, nil, 2, 0, normEps) })
	wantShapePanic(t, "short dw", func() { RMSNormBackward(nil, s, y, x, s, make([]float32, 3), 2, 3) })
}
