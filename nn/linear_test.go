package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// Tolerances of the layer tests. Errors are GradCheck's
// |analytic − numeric| / max(1, |numeric|).
const (
	// linearGradTol: the probe loss Σ g⊙y is linear in each of x, w, b, so
	// central differences have no truncation error; what remains is float32
	// rounding of a loss of size ~10 (≈1e-6) divided by the 2·GradCheckStep
	// denominator, ≈5e-5. A wrong term shows as an O(1) error.
	linearGradTol = 2e-4

	// smoothGradTol: for the nonlinear layers (norms, activations, losses) the
	// central difference adds an O(h²·f''') truncation error with h =
	// GradCheckStep = 1e-2, ≈1e-4 for functions with O(1) third derivatives,
	// on top of the float32 rounding above.
	smoothGradTol = 3e-4

	// forwardTol bounds the relative error of a float32 forward against a
	// float64 reference on O(1) values: a few float32 ulps (6e-8 each) per
	// accumulated term over the short sums of these tests.
	forwardTol = 2e-6
)

// randNormal returns n standard-normal float32s.
func randNormal(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// added returns after − before element-wise in float64: what a Backward that
// accumulates added to a gradient that held before.
func added(after, before []float32) []float64 {
	d := make([]float64, len(after))
	for i := range after {
		d[i] = float64(after[i]) - float64(before[i])
	}
	return d
}

// checkGrad compares analytic, the gradient a Backward accumulated for param,
// with central differences of loss, which reads param (a float32 slice the
// check perturbs in place and restores).
func checkGrad(t *testing.T, seed uint64, name string, param []float32, analytic []float64, loss func() float64, tol float64) {
	t.Helper()
	x0 := To64(param)
	f := func(x []float64) float64 {
		To32(param, x)
		return loss()
	}
	maxErr, at := GradCheck(f, slices.Clone(x0), analytic, GradCheckStep)
	To32(param, x0)
	if maxErr > tol {
		t.Errorf("seed %d: d%s[%d]: analytic %.6g, error %.3g > %.3g", seed, name, at, analytic[at], maxErr, tol)
	}
}

// relErr returns |got − want| / max(1, |want|).
func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(1, math.Abs(want))
}

// wantShapePanic fails t unless f panics with a tensor.ShapeError.
func wantShapePanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		err, ok := r.(error)
		var se tensor.ShapeError
		if !ok || !errors.As(err, &se) {
			t.Errorf("%s: recovered %v, want a tensor.ShapeError panic", what, r)
		}
	}()
	f()
}

func TestLinear(t *testing.T) {
	tests := []struct {
		rows, in, out int
		bias          bool
	}{
		{1, 1, 1, true},
		{3, 4, 5, true},
		{7, 5, 3, false},
		{2, 3, 1, true},
		{5, 1, 6, false},
		{4, 9, 7, true},
	}
	for k, tt := range tests {
		seed := uint64(k + 1)
		rng := rand.New(rand.NewPCG(seed, seed))
		x := randNormal(rng, tt.rows*tt.in)
		w := randNormal(rng, tt.in*tt.out)
		var b, db []float32
		if tt.bias {
			b, db = randNormal(rng, tt.out), randNormal(rng, tt.out)
		}
		g := randNormal(rng, tt.rows*tt.out)
		y := make([]float32, tt.rows*tt.out)

		// Forward against a float64 reference.
		for i := range y {
			y[i] = float32(math.NaN()) // forward overwrites
		}
		LinearForward(y, x, w, b, tt.rows, tt.in, tt.out)
		for i := range tt.rows {
			for j := range tt.out {
				var want float64
				if b != nil {
					want = float64(b[j])
				}
				for p := range tt.in {
					want += float64(x[i*tt.in+p]) * float64(w[p*tt.out+j])
				}
				if e := relErr(float64(y[i*tt.out+j]), want); e > forwardTol {
					t.Errorf("seed %d %+v: y[%d,%d] = %v, want %v", seed, tt, i, j, y[i*tt.out+j], want)
				}
			}
		}

		// Backward accumulates onto non-zero gradients.
		dx, dw := randNormal(rng, len(x)), randNormal(rng, len(w))
		dx0, dw0, db0 := slices.Clone(dx), slices.Clone(dw), slices.Clone(db)
		LinearBackward(dx, dw, db, g, x, w, tt.rows, tt.in, tt.out)
		loss := func() float64 {
			LinearForward(y, x, w, b, tt.rows, tt.in, tt.out)
			return tensor.Dot(g, y)
		}
		checkGrad(t, seed, "x", x, added(dx, dx0), loss, linearGradTol)
		checkGrad(t, seed, "w", w, added(dw, dw0), loss, linearGradTol)
		if b != nil {
			checkGrad(t, seed, "b", b, added(db, db0), loss, linearGradTol)
		}

		// nil dx and db are skipped and leave dw's gradient unchanged.
		dw2 := slices.Clone(dw0)
		LinearBackward(nil, dw2, nil, g, x, w, tt.rows, tt.in, tt.out)
		if !slices.Equal(dw2, dw) {
			t.Errorf("seed %d %+v: dw with nil dx, db differs from dw with them", seed, tt)
		}
	}
}

// TestLinearStrided checks that the strided variant on one head's block of
// per-head weights matches the contiguous layer on copies, and leaves the
// elements between rows untouched.
func TestLinearStrided(t *testing.T) {
	const seed = 7
	rng := rand.New(rand.NewPCG(seed, seed))
	const rows, d, heads, dh = 5, 6, 3, 4
	const h = 1 // the head under test
	x := randNormal(rng, rows*d)
	wq := randNormal(rng, heads*d*dh) // [heads, d, dh]
	bq := randNormal(rng, heads*dh)   // [heads, dh]
	q := randNormal(rng, rows*heads*dh)
	q0 := slices.Clone(q)
	LinearForwardStrided(q[h*dh:], x, wq[h*d*dh:], bq[h*dh:], rows, d, dh, heads*dh, d, dh)

	want := make([]float32, rows*dh)
	LinearForward(want, x, wq[h*d*dh:(h+1)*d*dh], bq[h*dh:(h+1)*dh], rows, d, dh)
	for i := range rows {
		for hh := range heads {
			for j := range dh {
				got := q[(i*heads+hh)*dh+j]
				if hh != h {
					if got != q0[(i*heads+hh)*dh+j] {
						t.Errorf("q[%d,%d,%d] of another head changed", i, hh, j)
					}
					continue
				}
				if got != want[i*dh+j] {
					t.Errorf("q[%d,%d,%d] = %v, want %v (contiguous)", i, h, j, got, want[i*dh+j])
				}
			}
		}
	}

	dq := randNormal(rng, rows*heads*dh)
	dqh := make([]float32, rows*dh)
	for i := range rows {
		copy(dqh[i*dh:(i+1)*dh], dq[(i*heads+h)*dh:])
	}
	dx, dw, db := make([]float32, rows*d), make([]float32, heads*d*dh), make([]float32, heads*dh)
	LinearBackwardStrided(dx, dw[h*d*dh:], db[h*dh:], dq[h*dh:], x, wq[h*d*dh:], rows, d, dh, heads*dh, d, dh)
	wdx, wdw, wdb := make([]float32, rows*d), make([]float32, d*dh), make([]float32, dh)
	LinearBackward(wdx, wdw, wdb, dqh, x, wq[h*d*dh:(h+1)*d*dh], rows, d, dh)
	if !slices.Equal(dx, wdx) || !slices.Equal(dw[h*d*dh:(h+1)*d*dh], wdw) || !slices.Equal(db[h*dh:(h+1)*dh], wdb) {
		t.Errorf("strided backward differs from contiguous backward on copies")
	}
	for i, v := range dw {
		if (i < h*d*dh || i >= (h+1)*d*dh) && v != 0 {
			t.Fatalf("dw[%d] of another head = %v, want 0", i, v)
		}
	}
}

// TestLinearBiasSumPrecision checks that db accumulates thousands of rows
// without float32 drift: 4096 rows of 0.1 sum to 409.6.
func TestLinearBiasSumPrecision(t *testing.T) {
	const rows, out = 4096, 3
	dy := make([]float32, rows*out)
	for i := range dy {
		dy[i] = 0.1
	}
	db := make([]float32, out)
	LinearBackward(nil, make([]float32, out), db, dy, make([]float32, rows), make([]float32, out), rows, 1, out)
	want := float32(rows * float64(float32(0.1)))
	for j, got := range db {
		if got != want {
			t.Errorf("db[%d] = %v, want %v", j, got, want)
		}
	}
}

func TestLinearShapePanics(t *testing.T) {
	x, w, y := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	wantShapePanic(t, "short y", func() { LinearForward(y[:3], x, w, nil, 2, 3, 2) })
	wantShapePanic(t, "short b", func() { LinearForward(y, x, w, []float32{1}, 2, 3, 2) })
	wantShapePanic(t, "short x", func() { LinearForward(y, x[:5], w, nil, 2, 3, 2) })
	wantShapePanic(t, "short db", func() { LinearBackward(nil, w, []float32{1}, y, x, w, 2, 3, 2) })
}
