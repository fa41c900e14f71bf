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
		shift := float64(xi[0]) // checkNorm: d ≥ 1
		sum, sumSq := shiftedSums(xi, shift)
		m := sum / float64(d)
		variance := max(sumSq/float64(d)-m*m, 0)
		s := math.Sqrt(variance + float64(eps))
		scale[i] = float32(s)
		normRow(yi, xi, w, b, shift+m, 1/s)
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
		normRowBackward(rowOrNil(dx, i, d), dw, db, dy[i*d:(i+1)*d], x[i*d:(i+1)*d], w, scale[i], true)
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
		_, sumSq := shiftedSums(xi, 0)
		s := math.Sqrt(sumSq/float64(d) + float64(eps))
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
		normRowBackward(rowOrNil(dx, i, d), dw, nil, dy[i*d:(i+1)*d], x[i*d:(i+1)*d], w, scale[i], false)
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

// normRowBackward accumulates the gradients of one row, in two passes over
// it: xi, dyi and dxi (nil to skip) are the row's [d] slices, scale its saved
// scale, g = dyi·w (nil w is 1). centred says whether the forward subtracted
// the mean (LayerNorm) or not (RMSNorm), which adds the mean_j g term to dx.
func normRowBackward(dxi, dw, db, dyi, xi, w []float32, scale float32, centred bool) {
	n, inv := float64(len(xi)), 1/float64(scale)
	shift := 0.0
	if centred {
		shift = float64(xi[0])
	}
	sx, sg, sgx := gradSums(dyi, xi, w, shift)
	mean, mg := 0.0, 0.0
	if centred {
		mean, mg = shift+sx/n, sg/n
	}
	// Σ g·x̂ = (Σ g·(x − shift) − (mean − shift)·Σ g)·inv
	mgx := (sgx - (mean-shift)*sg) * inv / n
	for j, v := range xi {
		xh := (float64(v) - mean) * inv
		dyj := float64(dyi[j])
		if dw != nil {
			dw[j] += float32(dyj * xh)
		}
		if db != nil {
			db[j] += dyi[j]
		}
		if dxi != nil {
			dxi[j] += float32((dyj*gainAt(w, j) - mg - xh*mgx) * inv)
		}
	}
}

// The row reductions below shift x by one of its values, so that sums of
// squares do not cancel when |mean| ≫ std, and keep two independent sets of
// float64 sums: one running sum is bound by the latency of an add.

// shiftedSums returns Σ_j (x[j] − c) and Σ_j (x[j] − c)² in float64.
func shiftedSums(x []float32, c float64) (sum, sumSq float64) {
	var s0, s1, q0, q1 float64
	j := 0
	for ; j+2 <= len(x); j += 2 {
		d0, d1 := float64(x[j])-c, float64(x[j+1])-c
		s0, s1 = s0+d0, s1+d1
		q0, q1 = q0+d0*d0, q1+d1*d1
	}
	if j < len(x) {
		d := float64(x[j]) - c
		s0, q0 = s0+d, q0+d*d
	}
	return s0 + s1, q0 + q1
}

// gradSums returns Σ_j (x_j − c), Σ_j g_j and Σ_j g_j·(x_j − c) for g = dy·w
// (nil w is 1), all [d].
func gradSums(dy, x, w []float32, c float64) (sx, sg, sgx float64) {
	dy = dy[:len(x)]
	var x0, x1, g0, g1, h0, h1 float64
	j := 0
	for ; j+2 <= len(x); j += 2 {
		d0, d1 := float64(x[j])-c, float64(x[j+1])-c
		a0, a1 := float64(dy[j])*gainAt(w, j), float64(dy[j+1])*gainAt(w, j+1)
		x0, x1 = x0+d0, x1+d1
		g0, g1 = g0+a0, g1+a1
		h0, h1 = h0+a0*d0, h1+a1*d1
	}
	if j < len(x) {
		d, a := float64(x[j])-c, float64(dy[j])*gainAt(w, j)
		x0, g0, h0 = x0+d, g0+a, h0+a*d
	}
	return x0 + x1, g0 + g1, h0 + h1
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
	if rows > 0 {
		lenAtLeast(op, "d", d, 1)
	}
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
