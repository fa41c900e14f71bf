package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// activation is one forward/backward pair with its float64 reference.
type activation struct {
	name     string
	forward  func(y, x []float32)
	backward func(dx, dy, x []float32)
	ref      func(x float64) float64
}

var activations = []activation{
	{"GELU", GELUForward, GELUBackward, func(x float64) float64 {
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}},
	{"GELUTanh", GELUTanhForward, GELUTanhBackward, func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}},
	{"ReLU", ReLUForward, ReLUBackward, func(x float64) float64 { return math.Max(x, 0) }},
}

// reluKinkGap keeps test inputs this far from ReLU's kink at 0, where a
// central difference of step GradCheckStep straddling it would be wrong.
const reluKinkGap = 5 * GradCheckStep

func TestActivations(t *testing.T) {
	for _, act := range activations {
		for k, n := range []int{1, 2, 7, 33, 256} {
			seed := uint64(k + 1)
			rng := rand.New(rand.NewPCG(seed, seed))
			x := randNormal(rng, n)
			for i, v := range x {
				x[i] = 2 * v // reach the tails, where tanh and erf differ most
				if math.Abs(float64(x[i])) < reluKinkGap {
					x[i] += 2 * reluKinkGap
				}
			}
			y := make([]float32, n)
			act.forward(y, x)
			for i, v := range x {
				if want := act.ref(float64(v)); relErr(float64(y[i]), want) > forwardTol {
					t.Errorf("%s(%v) = %v, want %v", act.name, v, y[i], want)
				}
			}
			inPlace := slices.Clone(x)
			act.forward(inPlace, inPlace)
			if !slices.Equal(inPlace, y) {
				t.Errorf("%s n=%d seed %d: in-place forward differs", act.name, n, seed)
			}

			g := randNormal(rng, n)
			dx := randNormal(rng, n)
			dx0 := slices.Clone(dx)
			act.backward(dx, g, x)
			checkGrad(t, seed, act.name+" x", x, added(dx, dx0), func() float64 {
				act.forward(y, x)
				return tensor.Dot(g, y)
			}, smoothGradTol)
			act.backward(nil, g, x) // skipped
		}
	}
}

// TestGELUValues checks known values: GELU(0) = 0, GELU(x) → x for large x
// and → 0 for very negative x, and the exact and tanh forms agree to their
// documented ~1e-3 approximation error.
func TestGELUValues(t *testing.T) {
	x := []float32{0, 10, -10, 1, -1, 0.5}
	exact, approx := make([]float32, len(x)), make([]float32, len(x))
	GELUForward(exact, x)
	GELUTanhForward(approx, x)
	const approxGap = 1e-3 // max |GELU − GELUTanh| is about 2e-4 (Hendrycks & Gimpel)
	for i, v := range x {
		if math.Abs(float64(exact[i]-approx[i])) > approxGap {
			t.Errorf("GELU(%v) = %v, GELUTanh = %v: differ by more than %g", v, exact[i], approx[i], approxGap)
		}
	}
	if exact[0] != 0 || exact[1] != 10 || math.Abs(float64(exact[2])) > 1e-20 { // GELU(−10) ≈ −7.6e−23
		t.Errorf("GELU(0, 10, -10) = %v, want 0, 10, ≈0", exact[:3])
	}
	if want := float32(0.8413447460685429); exact[3] != want { // Φ(1)
		t.Errorf("GELU(1) = %v, want %v", exact[3], want)
	}
}

// Tolerances of the GELU table against math.Erfc and math.Exp in float64.
const (
	cdfTol     = 1e-11 // the polynomials fit Φ within 8e-12 (degree 6, width 1/4)
	densityTol = 4e-9  // their derivatives fit φ within 3.3e-9
)

// TestGELUKernels compares the fast kernels with the readable references in
// package tensor, forward and backward, on a dense grid, at the extremes and
// on ±Inf and NaN. Results are float32, so they agree to float32 rounding.
func TestGELUKernels(t *testing.T) {
	kernels := []struct {
		name         string
		forward, ref func(y, x []float32)
		backward     func(dx, dy, x []float32)
		refGrad      func(float64) float64
	}{
		{"GELU", GELUForward, tensor.GELU, GELUBackward, tensor.GELUGrad},
		{"GELUTanh", GELUTanhForward, tensor.GELUTanh, GELUTanhBackward, tensor.GELUTanhGrad},
	}
	var x []float32
	for v := -12.0; v <= 12; v += 1.0 / 256 {
		x = append(x, float32(v))
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	x = append(x, math.MaxFloat32, -math.MaxFloat32, 1e-30, -1e-30, 0,
		cdfLo, -cdfLo, math.Nextafter32(-cdfLo, 0), math.Nextafter32(cdfLo, 0), inf, -inf, nan)
	same := func(a, b float64) bool { return relErr(a, b) <= forwardTol || a != a && b != b || a == b }
	ones := make([]float32, len(x))
	for i := range ones {
		ones[i] = 1
	}
	for _, k := range kernels {
		got, want := make([]float32, len(x)), make([]float32, len(x))
		k.forward(got, x)
		k.ref(want, x)
		grad := make([]float32, len(x))
		k.backward(grad, ones, x)
		for i, v := range x {
			if !same(float64(got[i]), float64(want[i])) {
				t.Errorf("%s(%v) = %v, reference %v", k.name, v, got[i], want[i])
			}
			if w := float32(k.refGrad(float64(v))); !same(float64(grad[i]), float64(w)) && !math.IsInf(float64(v), 0) {
				t.Errorf("%s'(%v) = %v, reference %v", k.name, v, grad[i], w)
			}
		}
	}

	// At ±Inf the exact GELU's gradient is its limit, where the reference's
	// Φ + x·φ computes Inf·0 = NaN.
	grad := make([]float32, 2)
	GELUBackward(grad, []float32{1, 1}, []float32{inf, -inf})
	if grad[0] != 1 || grad[1] != 0 {
		t.Errorf("GELU'(+Inf, −Inf) = %v, want [1 0]", grad)
	}
}

// TestNormalCDF checks the table's Φ and φ against math.Erfc and math.Exp on
// a dense grid across and beyond [cdfLo, −cdfLo).
func TestNormalCDF(t *testing.T) {
	for v := -10.0; v <= 10; v += 1.0 / 1024 {
		wantCDF := 0.5 * math.Erfc(-v/math.Sqrt2)
		if v <= cdfLo || v >= -cdfLo {
			if got := cdfOutside(v); math.Abs(got-wantCDF) > cdfTol {
				t.Fatalf("Φ(%v) = %.17g outside the table, want %.17g", v, got, wantCDF)
			}
			continue
		}
		c, u := cdfPiece(v)
		if got := cdfPoly(c, u); math.Abs(got-wantCDF) > cdfTol {
			t.Fatalf("Φ(%v) = %.17g, want %.17g", v, got, wantCDF)
		}
		if got, want := cdfPolyDerivative(c, u), math.Exp(-v*v/2)/math.Sqrt(2*math.Pi); math.Abs(got-want) > densityTol {
			t.Fatalf("φ(%v) = %.17g, want %.17g", v, got, want)
		}
	}
}

// normalCDFTable computes normalCDFPoly: on each interval k of width 1/cdfPerUnit
// from cdfLo, the degree-cdfDegree polynomial in u = x − centre_k that
// interpolates Φ(x) = erfc(−x/√2)/2 (math.Erfc, float64) at the Chebyshev
// nodes of the interval — a near-minimax fit — solved in the scaled variable
// t = u/(half-width) ∈ [−1, 1], where the Vandermonde system is well
// conditioned.
func normalCDFTable() (table [cdfIntervals][cdfDegree + 1]float64) {
	const n, half = cdfDegree + 1, 0.5 / cdfPerUnit
	for k := range table {
		centre := cdfLo + (float64(k)+0.5)/cdfPerUnit
		var m [n][n + 1]float64 // augmented system: Σ_j a_j t_i^j = Φ(centre + half·t_i)
		for i := range n {
			ti := math.Cos(math.Pi * (float64(i) + 0.5) / n)
			p := 1.0
			for j := range n {
				m[i][j] = p
				p *= ti
			}
			m[i][n] = 0.5 * math.Erfc(-(centre+half*ti)/math.Sqrt2)
		}
		for col := range n { // Gauss–Jordan with partial pivoting
			piv := col
			for r := col + 1; r < n; r++ {
				if math.Abs(m[r][col]) > math.Abs(m[piv][col]) {
					piv = r
				}
			}
			m[col], m[piv] = m[piv], m[col]
			for r := range n {
				if f := m[r][col] / m[col][col]; r != col {
					for j := col; j <= n; j++ {
						m[r][j] -= f * m[col][j]
					}
				}
			}
		}
		scale := 1.0 // a_j t^j = (a_j / half^j) u^j
		for j := range n {
			table[k][j] = m[j][n] / m[j][j] / scale
			scale *= half
		}
	}
	return table
}

// TestNormalCDFTable checks that the literal table in activation.go is what
// normalCDFTable computes; on a mismatch it logs the table to paste.
func TestNormalCDFTable(t *testing.T) {
	const coefTol = 1e-12 // relative: last-bit differences of the solve across platforms
	want := normalCDFTable()
	bad := false
	for k := range want {
		for j := range want[k] {
			if math.Abs(normalCDFPoly[k][j]-want[k][j]) > coefTol*math.Abs(want[k][j]) {
				bad = true
			}
		}
	}
	if bad {
		var b strings.Builder
		for _, c := range want {
			b.WriteString("\t{")
			for j, v := range c {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
			b.WriteString("},\n")
		}
		t.Errorf("normalCDFPoly differs from normalCDFTable(); regenerated:\n%s", b.String())
	}
}

func TestActivationShapePanics(t *testing.T) {
	for _, act := range activations {
		wantShapePanic(t, act.name+" forward", func() { act.forward(make([]float32, 2), make([]float32, 3)) })
		wantShapePanic(t, act.name+" backward", func() {
			act.backward(make([]float32, 3), make([]float32, 2), make([]float32, 3))
		})
	}
}
