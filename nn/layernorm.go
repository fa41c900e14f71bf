package nn

import "math"

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
		mean := sum4(xi) / float64(d)
		s := math.Sqrt(sqDev4(xi, mean)/float64(d) + float64(eps))
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
		mean := sum4(xi) / float64(d)
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
		s := math.Sqrt(sqDev4(xi, 0)/float64(d) + float64(eps))
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
	if dw != nil || db != nil {
		for j, v := range xi {
			if dw != nil {
				dw[j] += float32(float64(dyi[j]) * (float64(v) - mean) * inv)
			}
			if db != nil {
				db[j] += dyi[j]
			}
		}
	}
	if dxi == nil {
		return
	}
	sg, sgx := gradSums(dyi, xi, w, mean, inv)
	n := float64(len(xi))
	mg, mgx := sg/n, sgx/n
	if !centred {
		mg = 0
	}
	for j, v := range xi {
		xh := (float64(v) - mean) * inv
		g := float64(dyi[j]) * gainAt(w, j)
		dxi[j] += float32((g - mg - xh*mgx) * inv)
	}
}

// The row reductions below keep four independent float64 sums: one running
// sum is bound by the latency of an add (about four cycles), four hide it.

// sum4 returns Σ_j x[j] in float64.
func sum4(x []float32) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s0 += float64(x[j])
		s1 += float64(x[j+1])
		s2 += float64(x[j+2])
		s3 += float64(x[j+3])
	}
	for ; j < len(x); j++ {
		s0 += float64(x[j])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDev4 returns Σ_j (x[j] − c)² in float64.
func sqDev4(x []float32, c float64) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		d0, d1, d2, d3 := float64(x[j])-c, float64(x[j+1])-c, float64(x[j+2])-c, float64(x[j+3])-c
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(x); j++ {
		d := float64(x[j]) - c
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// gradSums returns Σ_j g_j and Σ_j g_j·x̂_j for g = dy·w (nil w is 1) and
// x̂ = (x − mean)·inv, all [d].
func gradSums(dy, x, w []float32, mean, inv float64) (sg, sgx float64) {
	var g0, g1, g2, g3, h0, h1, h2, h3 float64
	j := 0
	dy = dy[:len(x)]
	for ; j+4 <= len(x); j += 4 {
		a0 := float64(dy[j]) * gainAt(w, j)
		a1 := float64(dy[j+1]) * gainAt(w, j+1)
		a2 := float64(dy[j+2]) * gainAt(w, j+2)
		a3 := float64(dy[j+3]) * gainAt(w, j+3)
		g0, g1, g2, g3 = g0+a0, g1+a1, g2+a2, g3+a3
		h0 += a0 * (float64(x[j]) - mean)
		h1 += a1 * (float64(x[j+1]) - mean)
		h2 += a2 * (float64(x[j+2]) - mean)
		h3 += a3 * (float64(x[j+3]) - mean)
	}
	for ; j < len(x); j++ {
		a := float64(dy[j]) * gainAt(w, j)
		g0 += a
		h0 += a * (float64(x[j]) - mean)
	}
	return (g0 + g1) + (g2 + g3), ((h0 + h1) + (h2 + h3)) * inv
}

// gainAt returns w[j], or 1 if w is nil.
func gainAt(w []float32, j int) float64 {
	if w == nil {
		return 1
	}
	return float64(w[j])
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
