package circuits

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// factTol is the relative agreement required between a factored
// computation and the dense gonum one on these small random matrices
// (entries of order 1, at most a few dozen terms per sum).
const factTol = 1e-10

// factShapes are (ldim, mdim, rdim): tall, wide, square, mdim > ldim, rank 1.
var factShapes = [][3]int{{5, 3, 4}, {3, 6, 4}, {4, 7, 2}, {6, 6, 6}, {1, 3, 5}, {8, 2, 8}, {7, 10, 7}, {9, 1, 9}}

func randFactored(t *testing.T, rng *rand.Rand, s [3]int) *FactoredMatrix {
	t.Helper()
	m, err := NewFactoredMatrix(gaussDense(rng, s[0], s[1], 1), gaussDense(rng, s[1], s[2], 1))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func assertClose(t *testing.T, label string, got, want mat.Matrix, tol float64) {
	t.Helper()
	gr, gc := got.Dims()
	wr, wc := want.Dims()
	if gr != wr || gc != wc {
		t.Fatalf("%s: shape [%d, %d], want [%d, %d]", label, gr, gc, wr, wc)
	}
	scale := max(1, mat.Norm(want, math.Inf(1)))
	if !mat.EqualApprox(got, want, tol*scale) {
		t.Fatalf("%s:\ngot  %v\nwant %v", label, mat.Formatted(got, mat.Squeeze()), mat.Formatted(want, mat.Squeeze()))
	}
}

func TestFactoredMatchesDense(t *testing.T) {
	for i, s := range factShapes {
		seed := uint64(i + 1)
		rng := rand.New(rand.NewPCG(seed, seed))
		m := randFactored(t, rng, s)
		label := fmt.Sprintf("seed %d, shape %v", seed, s)
		var ab mat.Dense
		ab.Mul(m.A(), m.B())
		assertClose(t, label+": Dense", m.Dense(), &ab, factTol)
		if l, r := m.Dims(); l != s[0] || r != s[2] || m.InnerDim() != s[1] {
			t.Fatalf("%s: Dims %d, %d, InnerDim %d", label, l, r, m.InnerDim())
		}
		assertClose(t, label+": T", m.T().Dense(), ab.T(), factTol)
		assertClose(t, label+": Scale", m.Scale(-2.5).Dense(), scaled(-2.5, &ab), factTol)
		if got, want := m.Norm(), mat.Norm(&ab, 2); math.Abs(got-want) > factTol*want {
			t.Errorf("%s: Norm = %v, want %v", label, got, want)
		}
		for _, k := range []int{1, 2, 20} {
			want := ab.Slice(0, min(k, s[0]), 0, min(k, s[2]))
			assertClose(t, fmt.Sprintf("%s: Corner(%d)", label, k), m.Corner(k), want, factTol)
		}
		for i := range s[0] {
			assertClose(t, fmt.Sprintf("%s: Row(%d)", label, i), mat.NewVecDense(s[2], m.Row(nil, i)), ab.RowView(i), factTol)
			if got, want := m.At(i, s[2]-1), ab.At(i, s[2]-1); math.Abs(got-want) > factTol*max(1, math.Abs(want)) {
				t.Errorf("%s: At(%d, %d) = %v, want %v", label, i, s[2]-1, got, want)
			}
		}
		x := gaussDense(rng, 1, s[0], 1).RawRowView(0)
		xm, err := m.VecMul(nil, x)
		if err != nil {
			t.Fatal(err)
		}
		var want mat.VecDense
		want.MulVec(ab.T(), mat.NewVecDense(len(x), x))
		assertClose(t, label+": VecMul", mat.NewVecDense(len(xm), xm), &want, factTol)
		y := gaussDense(rng, 1, s[2], 1).RawRowView(0)
		my, err := m.MulVec(nil, y)
		if err != nil {
			t.Fatal(err)
		}
		want.Reset()
		want.MulVec(&ab, mat.NewVecDense(len(y), y))
		assertClose(t, label+": MulVec", mat.NewVecDense(len(my), my), &want, factTol)
	}
}

func scaled(f float64, a mat.Matrix) *mat.Dense {
	var s mat.Dense
	s.Scale(f, a)
	return &s
}

func TestFactoredProducts(t *testing.T) {
	for i, s := range factShapes {
		seed := uint64(20 + i)
		rng := rand.New(rand.NewPCG(seed, seed))
		m := randFactored(t, rng, s)
		ab := m.Dense()
		label := fmt.Sprintf("seed %d, shape %v", seed, s)
		for _, n := range []int{1, 3, 12} {
			x := gaussDense(rng, s[2], n, 1)
			got, err := m.MulRight(x)
			if err != nil {
				t.Fatal(err)
			}
			var want mat.Dense
			want.Mul(ab, x)
			assertClose(t, fmt.Sprintf("%s: MulRight n=%d", label, n), got.Dense(), &want, factTol)
			if inner := got.InnerDim(); inner != min(s[1], s[2]) {
				t.Errorf("%s: MulRight n=%d: inner dim %d, want %d", label, n, inner, min(s[1], s[2]))
			}
			y := gaussDense(rng, n, s[0], 1)
			got, err = m.MulLeft(y)
			if err != nil {
				t.Fatal(err)
			}
			want.Reset()
			want.Mul(y, ab)
			assertClose(t, fmt.Sprintf("%s: MulLeft n=%d", label, n), got.Dense(), &want, factTol)
			if inner := got.InnerDim(); inner != min(s[1], s[0]) {
				t.Errorf("%s: MulLeft n=%d: inner dim %d, want %d", label, n, inner, min(s[1], s[0]))
			}
			other := randFactored(t, rng, [3]int{s[2], 1 + n%4, n})
			got, err = m.MulFactored(other)
			if err != nil {
				t.Fatal(err)
			}
			want.Reset()
			want.Mul(ab, other.Dense())
			assertClose(t, fmt.Sprintf("%s: MulFactored n=%d", label, n), got.Dense(), &want, factTol)
			if inner := got.InnerDim(); inner != min(s[1], other.InnerDim()) {
				t.Errorf("%s: MulFactored: inner dim %d, want %d", label, inner, min(s[1], other.InnerDim()))
			}
		}
	}
}

func TestFactoredSVD(t *testing.T) {
	for i, s := range factShapes {
		seed := uint64(40 + i)
		rng := rand.New(rand.NewPCG(seed, seed))
		m := randFactored(t, rng, s)
		label := fmt.Sprintf("seed %d, shape %v", seed, s)
		u, sv, v, err := m.SVD()
		if err != nil {
			t.Fatal(err)
		}
		k := min(s[0], s[1], s[2])
		if r, c := u.Dims(); r != s[0] || c != k || len(sv) != k {
			t.Fatalf("%s: U [%d, %d], %d values, want [%d, %d], %d", label, r, c, len(sv), s[0], k, k)
		}
		if r, c := v.Dims(); r != s[2] || c != k {
			t.Fatalf("%s: V [%d, %d], want [%d, %d]", label, r, c, s[2], k)
		}
		var us, usv mat.Dense
		us.Mul(u, mat.NewDiagDense(k, sv))
		usv.Mul(&us, v.T())
		assertClose(t, label+": U·S·Vᵀ", &usv, m.Dense(), factTol)
		for name, q := range map[string]*mat.Dense{"U": u, "V": v} {
			var qtq mat.Dense
			qtq.Mul(q.T(), q)
			assertClose(t, label+": "+name+"ᵀ"+name, &qtq, eye(k), factTol)
		}
		var dense mat.SVD
		dense.Factorize(m.Dense(), mat.SVDNone)
		if want := dense.Values(nil)[:k]; !floatsClose(sv, want, factTol) {
			t.Errorf("%s: singular values %v, want %v", label, sv, want)
		}
		cl, err := m.CollapseL()
		if err != nil {
			t.Fatal(err)
		}
		var p mat.Dense
		p.Mul(u, cl)
		assertClose(t, label+": U·CollapseL", &p, m.Dense(), factTol)
		cr, err := m.CollapseR()
		if err != nil {
			t.Fatal(err)
		}
		p.Reset()
		p.Mul(cr, v.T())
		assertClose(t, label+": CollapseR·Vᵀ", &p, m.Dense(), factTol)
	}
}

func eye(n int) *mat.Dense {
	e := mat.NewDense(n, n, nil)
	for i := range n {
		e.Set(i, i, 1)
	}
	return e
}

func floatsClose(got, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*max(1, math.Abs(want[i])) {
			return false
		}
	}
	return true
}

func TestFactoredEigenvalues(t *testing.T) {
	for i, s := range factShapes {
		if s[0] != s[2] {
			continue
		}
		seed := uint64(60 + i)
		rng := rand.New(rand.NewPCG(seed, seed))
		m := randFactored(t, rng, s)
		got, err := m.Eigenvalues()
		if err != nil {
			t.Fatal(err)
		}
		var e mat.Eigen
		if !e.Factorize(m.Dense(), mat.EigenNone) {
			t.Fatal("dense eigendecomposition failed")
		}
		want := e.Values(nil)
		slices.SortFunc(want, func(x, y complex128) int {
			return cmp.Or(cmp.Compare(cmplx.Abs(y), cmplx.Abs(x)), cmp.Compare(real(y), real(x)), cmp.Compare(imag(y), imag(x)))
		})
		k := min(s[0], s[1])
		if len(got) != k {
			t.Fatalf("seed %d, shape %v: %d eigenvalues, want %d", seed, s, len(got), k)
		}
		for j := range k {
			if cmplx.Abs(got[j]-want[j]) > factTol*max(1, cmplx.Abs(want[j])) {
				t.Errorf("seed %d, shape %v: eigenvalue %d = %v, want %v", seed, s, j, got[j], want[j])
			}
		}
		for _, w := range want[k:] { // the rest of AB's spectrum is zero
			if cmplx.Abs(w) > factTol*cmplx.Abs(want[0]) {
				t.Errorf("seed %d, shape %v: dense eigenvalue %v beyond the first %d is not zero", seed, s, w, k)
			}
		}
	}
}

func TestFactoredErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	a, b := gaussDense(rng, 4, 3, 1), gaussDense(rng, 2, 5, 1)
	if _, err := NewFactoredMatrix(a, b); !errors.Is(err, mat.ErrShape) {
		t.Errorf("NewFactoredMatrix [4,3]·[2,5]: error %v, want mat.ErrShape", err)
	}
	if _, err := NewFactoredMatrix(nil, b); !errors.Is(err, mat.ErrZeroLength) {
		t.Errorf("NewFactoredMatrix(nil, B): error %v, want mat.ErrZeroLength", err)
	}
	m := randFactored(t, rng, [3]int{4, 3, 5})
	for name, err := range map[string]error{
		"MulRight":    second(m.MulRight(gaussDense(rng, 4, 2, 1))),
		"MulLeft":     second(m.MulLeft(gaussDense(rng, 2, 5, 1))),
		"MulFactored": second(m.MulFactored(m)),
		"VecMul":      second(m.VecMul(nil, make([]float64, 5))),
		"MulVec":      second(m.MulVec(nil, make([]float64, 4))),
	} {
		if !errors.Is(err, mat.ErrShape) {
			t.Errorf("%s with mismatched shapes: error %v, want mat.ErrShape", name, err)
		}
	}
	for name, err := range map[string]error{
		"BA":              second(m.BA()),
		"Eigenvalues":     second(m.Eigenvalues()),
		"EigenPositivity": second(EigenPositivity(m)),
	} {
		if !errors.Is(err, mat.ErrSquare) {
			t.Errorf("%s of a [4, 5] matrix: error %v, want mat.ErrSquare", name, err)
		}
	}
	for name, f := range map[string]func(){
		"Row(4)":    func() { m.Row(nil, 4) },
		"At(0, 5)":  func() { m.At(0, 5) },
		"Corner(0)": func() { m.Corner(0) },
	} {
		if got := recoverValue(f); got == nil {
			t.Errorf("%s did not panic", name)
		} else if _, ok := got.(mat.Error); !ok {
			t.Errorf("%s panicked with %v (%T), want a mat.Error", name, got, got)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func recoverValue(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}
