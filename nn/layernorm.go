package nn

import (
	"math"

	"github.com/mechinterp/workbench/tensor"
)

// LayerNormForward normalises each row of x [rows, d] as TransformerLens's
// LayerNorm does (Ba et al. 2016, "Layer Normalization"):
//
//	scale[i] = sqrt(mean_j (x[i,j] − mean_i)² + eps)   (biased variance)
//	y[i, j]  = (x[i,j] − mean_i) / scale[i] · w[j] + b[j]
//
// y [rows, d] is hook_normalized and scale [rows] is hook_scale; both are
// overwritten, and LayerNormBackward needs scale. w [d] and b [d] are the gain
// and bias; nil w means 1 and nil b means 0, so w = b = nil is
// TransformerLens's LayerNormPre. Statistics are computed in float64 per row.
// y may alias x. It panics with a tensor.ShapeError if a slice is shorter than
// its shape.
func LayerNormForward(y, scale, x, w, b []float32, rows, d int, eps float32) {
	checkNorm("LayerNormForward", y, scale, x, w, b, rows, d)
	for i := range rows {
		xi, yi := x[i*d:(i+1)*d], y[i*d:(i+1)*d]
		mean, variance := tensor.MeanVar(xi)
		s := math.Sqrt(variance + float64(eps))
		scale[i] = float32(s)
		normRow(yi, xi, w, b, mean, 1/s)
	}
}

// LayerNormBackward accumulates the gradients of LayerNormForward given dy
// [rows, d] and the forward's x [rows, d], scale [rows] and w [d] (nil for
// LayerNormPre). With x̂ = (x − mean)/scale and g = dy·w:
//
//	dx[i, :] += (g − mean_j g − x̂·mean_j(g·x̂)) / scale[i]   (skipped if dx is nil)
//	dw       += Σ_rows dy·x̂                                  (skipped if dw is nil)
//	db       += Σ_rows dy                                    (skipped if db is nil)
//
// The gradient flows through the mean and the scale, as in PyTorch. dx must
// not alias dy. It panics with a tensor.ShapeError if a slice is shorter than
// its shape.
func LayerNormBackward(dx, dw, db, dy, x, scale, w []float32, rows, d int) {
	checkNormBackward("LayerNormBackward", dx, dw, db, dy, x, scale, w, rows, d)
	for i := range rows {
		xi := x[i*d : (i+1)*d]
		mean := tensor.Sum(xi) / float64(d)
		normRowBackward(rowOrNil(dx, i, d), dw, db, dy[i*d:(i+1)*d], xi, w, mean, 1/float64(scale[i]), true)
	}
}

// RMSNormForward normalises each row of x [rows, d] by its root mean square
// as TransformerLens's RMSNorm does (Zhang & Sennrich 2019, "Root Mean Square
// Layer Normalization"):
//
//	scale[i] = sqrt(mean_j x[i,j]² + eps)
//	y[i, j]  = x[i,j] / scale[i] · w[j]
//
// y [rows, d] is hook_normalized and scale [rows] is hook_scale; both are
// overwritten. w [d] is the gain; nil w means 1, which is RMSNormPre.
// Statistics are computed in float64 per row. y may alias x. It panics with a
// tensor.ShapeError if a slice is shorter than its shape.
func RMSNormForward(y, scale, x, w []float32, rows, d int, eps float32) {
	checkNorm("RMSNormForward", y, scale, x, w, nil, rows, d)
	for i := range rows {
		xi, yi := x[i*d:(i+1)*d], y[i*d:(i+1)*d]
		s := math.Sqrt(tensor.Dot(xi, xi)/float64(d) + float64(eps))
		scale[i] = float32(s)
		normRow(yi, xi, w, nil, 0, 1/s)
	}
}

// RMSNormBackward accumulates the gradients of RMSNormForward given dy [rows,
// d] and the forward's x [rows, d], scale [rows] and w [d] (nil for
// RMSNormPre). With x̂ = x/scale and g = dy·w:
//
//	dx[i, :] += (g − x̂·mean_j(g·x̂)) / scale[i]   (skipped if dx is nil)
//	dw       += Σ_rows dy·x̂                       (skipped if dw is nil)
//
// dx must not alias dy. It panics with a tensor.ShapeError if a slice is
// shorter than its shape.
func RMSNormBackward(dx, dw, dy, x, scale, w []float32, rows, d int) {
	checkNormBackward("RMSNormBackward", dx, dw, nil, dy, x, scale, w, rows, d)
	for i := range rows {
		normRowBackward(rowOrNil(dx, i, d), dw, nil, dy[i*d:(i+1)*d], x[i*d:(i+1)*d], w, 0, 1/float64(scale[i]), false)
	}
}

// normRow writes yi = (xi − mean)·inv·w + b in float64 arithmetic; nil w is 1
// and nil b is 0.
func normRow(yi, xi, w, b []float32, mean, inv float64) {
	switch {
	case w == nil && b == nil:
		for j, v := range xi {
			yi[j] = float32((float64(v) - mean) * inv)
		}
	case b == nil:
		for j, v := range xi {
			yi[j] = float32((float64(v) - mean) * inv * float64(w[j]))
		}
	default:
		for j, v := range xi {
			g := 1.0
			if w != nil {
				g = float64(w[j])
			}
			yi[j] = float32((float64(v)-mean)*inv*g + float64(b[j]))
		}
	}
}

// normRowBackward accumulates the gradients of one row: xi, dyi and dxi (nil
// to skip) are the row's [d] slices, x̂ = (xi − mean)·inv, g = dyi·w (nil w is
// 1). centred says whether the forward subtracted the mean (LayerNorm) or not
// (RMSNorm, mean = 0), which removes the mean_j g term from dx.
func normRowBackward(dxi, dw, db, dyi, xi, w []float32, mean, inv float64, centred bool) {
	var sg, sgx float64
	for j, v := range xi {
		xh := (float64(v) - mean) * inv
		dyj := float64(dyi[j])
		g := dyj
		if w != nil {
			g *= float64(w[j])
		}
		sg += g
		sgx += g * xh
		if dw != nil {
			dw[j] += float32(dyj * xh)
		}
		if db != nil {
			db[j] += dyi[j]
		}
	}
	if dxi == nil {
		return
	}
	n := float64(len(xi))
	mg, mgx := sg/n, sgx/n
	if !centred {
		mg = 0
	}
	for j, v := range xi {
		xh := (float64(v) - mean) * inv
		g := float64(dyi[j])
		if w != nil {
			g *= float64(w[j])
		}
		dxi[j] += float32((g - mg - xh*mgx) * inv)
	}
}

// rowOrNil returns row i of the [rows, d] matrix a, or nil if a is nil.
func rowOrNil(a []float32, i, d int) []float32 {
	if a == nil {
		return nil
	}
	return a[i*d : (i+1)*d]
}

// checkNorm checks the slices of a normalisation forward.
func checkNorm(op string, y, scale, x, w, b []float32, rows, d int) {
	n := rows * d
	lenAtLeast(op, "len(x)", len(x), n)
	lenAtLeast(op, "len(y)", len(y), n)
	lenAtLeast(op, "len(scale)", len(scale), rows)
	if w != nil {
		lenAtLeast(op, "len(w)", len(w), d)
	}
	if b != nil {
		lenAtLeast(op, "len(b)", len(b), d)
	}
}

// checkNormBackward checks the slices of a normalisation backward.
func checkNormBackward(op string, dx, dw, db, dy, x, scale, w []float32, rows, d int) {
	checkNorm(op, dy, scale, x, w, nil, rows, d)
	if dx != nil {
		lenAtLeast(op, "len(dx)", len(dx), rows*d)
	}
	if dw != nil {
		lenAtLeast(op, "len(dw)", len(dw), d)
	}
	if db != nil {
		lenAtLeast(op, "len(db)", len(db), d)
	}
}
