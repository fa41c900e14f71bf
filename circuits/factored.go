package circuits

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// ErrNoConvergence is returned (wrapped) when an SVD or eigendecomposition
// fails to converge.
var ErrNoConvergence = errors.New("circuits: decomposition did not converge")

// FactoredMatrix is the matrix M = A·B [ldim, rdim] kept as its factors
// A [ldim, mdim] and B [mdim, rdim], after TransformerLens's FactoredMatrix.
// Circuit matrices are low rank and large — OV = W_V·W_O is [d_model, d_model]
// of rank d_head, the full OV circuit W_E·W_V·W_O·W_U is [d_vocab, d_vocab] —
// so every method works from the factors and forms M only when asked (Dense).
//
// Build one with NewFactoredMatrix (or FullOV, Weights.QK, …); the zero
// value has no factors. A FactoredMatrix is immutable: its methods never
// write to A or B and return new values, so it is safe for concurrent use.
// It aliases the factors it was built from; do not modify them while it is
// in use.
type FactoredMatrix struct {
	a, b *mat.Dense
}

// NewFactoredMatrix returns M = A·B without forming it. The factors are
// retained, not copied. It returns an error wrapping mat.ErrZeroLength if a
// factor is nil and mat.ErrShape if A's columns do not match B's rows.
func NewFactoredMatrix(a, b *mat.Dense) (*FactoredMatrix, error) {
	if a == nil || b == nil || a.IsEmpty() || b.IsEmpty() {
		return nil, fmt.Errorf("circuits: factored matrix: nil or empty factor: %w", mat.ErrZeroLength)
	}
	_, am := a.Dims()
	bm, _ := b.Dims()
	if am != bm {
		return nil, fmt.Errorf("circuits: factored matrix: A is %s but B is %s: %w", shape(a), shape(b), mat.ErrShape)
	}
	return &FactoredMatrix{a: a, b: b}, nil
}

// factored is NewFactoredMatrix for factors whose shapes this package has
// just made to agree.
func factored(a, b *mat.Dense) *FactoredMatrix { return &FactoredMatrix{a: a, b: b} }

func shape(m mat.Matrix) string {
	r, c := m.Dims()
	return fmt.Sprintf("[%d, %d]", r, c)
}

// Dims returns the shape [ldim, rdim] of M.
func (m *FactoredMatrix) Dims() (ldim, rdim int) {
	ldim, _ = m.a.Dims()
	_, rdim = m.b.Dims()
	return ldim, rdim
}

// InnerDim returns mdim, the inner dimension of the factorisation; the rank
// of M is at most min(ldim, mdim, rdim).
func (m *FactoredMatrix) InnerDim() int {
	_, mdim := m.a.Dims()
	return mdim
}

// A returns the left factor [ldim, mdim]. It is the stored matrix, not a
// copy; do not modify it.
func (m *FactoredMatrix) A() *mat.Dense { return m.a }

// B returns the right factor [mdim, rdim]. It is the stored matrix, not a
// copy; do not modify it.
func (m *FactoredMatrix) B() *mat.Dense { return m.b }

// String describes the shape, like TransformerLens's repr.
func (m *FactoredMatrix) String() string {
	l, r := m.Dims()
	return fmt.Sprintf("FactoredMatrix [%d, %d], inner dim %d", l, r, m.InnerDim())
}

// Dense returns the product A·B [ldim, rdim], newly allocated. This is the
// one method that forms M; at vocabulary scale it is expensive.
func (m *FactoredMatrix) Dense() *mat.Dense {
	var ab mat.Dense
	ab.Mul(m.a, m.b)
	return &ab
}

// BA returns the reverse product B·A [mdim, mdim], defined when M is square
// (ldim == rdim); otherwise it returns an error wrapping mat.ErrSquare. Its
// non-zero eigenvalues are those of M.
func (m *FactoredMatrix) BA() (*mat.Dense, error) {
	if l, r := m.Dims(); l != r {
		return nil, fmt.Errorf("circuits: BA of a non-square %v: %w", m, mat.ErrSquare)
	}
	var ba mat.Dense
	ba.Mul(m.b, m.a)
	return &ba, nil
}

// T returns the transpose Mᵀ = Bᵀ·Aᵀ, still factored. The factors are
// copied (transposed).
func (m *FactoredMatrix) T() *FactoredMatrix {
	return factored(mat.DenseCopyOf(m.b.T()), mat.DenseCopyOf(m.a.T()))
}

// Scale returns f·M, scaling the smaller factor.
func (m *FactoredMatrix) Scale(f float64) *FactoredMatrix {
	var s mat.Dense
	la, ca := m.a.Dims()
	lb, cb := m.b.Dims()
	if la*ca <= lb*cb {
		s.Scale(f, m.a)
		return factored(&s, m.b)
	}
	s.Scale(f, m.b)
	return factored(m.a, &s)
}

// MulRight returns M·X for X [rdim, n], keeping the smaller inner dimension:
// A·(B·X) with inner mdim when mdim < rdim, else (A·B)·X with inner rdim, as
// TransformerLens's M @ X. It returns an error wrapping mat.ErrShape if X
// has the wrong number of rows.
func (m *FactoredMatrix) MulRight(x mat.Matrix) (*FactoredMatrix, error) {
	_, rdim := m.Dims()
	if xr, _ := x.Dims(); xr != rdim {
		return nil, fmt.Errorf("circuits: %v times %s: %w", m, shape(x), mat.ErrShape)
	}
	var p mat.Dense
	if m.InnerDim() < rdim {
		p.Mul(m.b, x)
		return factored(m.a, &p), nil
	}
	return factored(m.Dense(), mat.DenseCopyOf(x)), nil
}

// MulLeft returns X·M for X [n, ldim], keeping the smaller inner dimension:
// (X·A)·B with inner mdim when mdim < ldim, else X·(A·B) with inner ldim, as
// TransformerLens's X @ M. It returns an error wrapping mat.ErrShape if X has
// the wrong number of columns.
func (m *FactoredMatrix) MulLeft(x mat.Matrix) (*FactoredMatrix, error) {
	ldim, _ := m.Dims()
	if _, xc := x.Dims(); xc != ldim {
		return nil, fmt.Errorf("circuits: %s times %v: %w", shape(x), m, mat.ErrShape)
	}
	var p mat.Dense
	if m.InnerDim() < ldim {
		p.Mul(x, m.a)
		return factored(&p, m.b), nil
	}
	return factored(mat.DenseCopyOf(x), m.Dense()), nil
}

// MulFactored returns M·N = A·(B·N.A)·N.B, factored through the smaller of
// the two inner dimensions. It returns an error wrapping mat.ErrShape if
// M's columns do not match N's rows.
func (m *FactoredMatrix) MulFactored(n *FactoredMatrix) (*FactoredMatrix, error) {
	_, rdim := m.Dims()
	if nl, _ := n.Dims(); nl != rdim {
		return nil, fmt.Errorf("circuits: %v times %v: %w", m, n, mat.ErrShape)
	}
	var mid, p mat.Dense
	mid.Mul(m.b, n.a) // [m.mdim, n.mdim]
	if m.InnerDim() <= n.InnerDim() {
		p.Mul(&mid, n.b)
		return factored(m.a, &p), nil
	}
	p.Mul(m.a, &mid)
	return factored(&p, n.b), nil
}

// VecMul returns the row vector x·M [rdim] for x [ldim] (row vectors on the
// left, our convention), computed as (x·A)·B. dst is used if it has room.
// It returns an error wrapping mat.ErrShape if len(x) != ldim.
func (m *FactoredMatrix) VecMul(dst, x []float64) ([]float64, error) {
	ldim, rdim := m.Dims()
	if len(x) != ldim {
		return nil, fmt.Errorf("circuits: vector of length %d times %v: %w", len(x), m, mat.ErrShape)
	}
	xa := make([]float64, m.InnerDim())
	blas64.Gemv(blas.Trans, 1, m.a.RawMatrix(), vec(x), 0, vec(xa))
	dst = grow(dst, rdim)
	blas64.Gemv(blas.Trans, 1, m.b.RawMatrix(), vec(xa), 0, vec(dst))
	return dst, nil
}

// MulVec returns the column vector M·x [ldim] for x [rdim], computed as
// A·(B·x). dst is used if it has room. It returns an error wrapping
// mat.ErrShape if len(x) != rdim.
func (m *FactoredMatrix) MulVec(dst, x []float64) ([]float64, error) {
	ldim, rdim := m.Dims()
	if len(x) != rdim {
		return nil, fmt.Errorf("circuits: %v times vector of length %d: %w", m, len(x), mat.ErrShape)
	}
	bx := make([]float64, m.InnerDim())
	blas64.Gemv(blas.NoTrans, 1, m.b.RawMatrix(), vec(x), 0, vec(bx))
	dst = grow(dst, ldim)
	blas64.Gemv(blas.NoTrans, 1, m.a.RawMatrix(), vec(bx), 0, vec(dst))
	return dst, nil
}

// Row returns row i of M [rdim], A[i,:]·B, without forming M. dst is used if
// it has room. Row panics with mat.ErrRowAccess if i is out of range.
func (m *FactoredMatrix) Row(dst []float64, i int) []float64 {
	ldim, rdim := m.Dims()
	if i < 0 || i >= ldim {
		panic(mat.ErrRowAccess)
	}
	dst = grow(dst, rdim)
	blas64.Gemv(blas.Trans, 1, m.b.RawMatrix(), vec(m.a.RawRowView(i)), 0, vec(dst))
	return dst
}

// At returns the element M[i, j], a dot product of length mdim. It panics
// with mat.ErrRowAccess or mat.ErrColAccess if i or j is out of range.
func (m *FactoredMatrix) At(i, j int) float64 {
	ldim, rdim := m.Dims()
	if i < 0 || i >= ldim {
		panic(mat.ErrRowAccess)
	}
	if j < 0 || j >= rdim {
		panic(mat.ErrColAccess)
	}
	return mat.Dot(m.a.RowView(i), m.b.ColView(j))
}

// Corner returns the top-left corner of M, [min(k, ldim), min(k, rdim)],
// computed from the first k rows of A and columns of B, like
// TransformerLens's get_corner. It panics with mat.ErrIndexOutOfRange if
// k < 1.
func (m *FactoredMatrix) Corner(k int) *mat.Dense {
	if k < 1 {
		panic(mat.ErrIndexOutOfRange)
	}
	ldim, rdim := m.Dims()
	mdim := m.InnerDim()
	var c mat.Dense
	c.Mul(m.a.Slice(0, min(k, ldim), 0, mdim), m.b.Slice(0, mdim, 0, min(k, rdim)))
	return &c
}

// Norm returns the Frobenius norm ‖A·B‖_F without forming A·B, through the
// Gram matrices: ‖A·B‖_F² = tr((AᵀA)(BBᵀ)), which costs mdim²·(ldim+rdim)/2
// multiply-adds. When ldim·rdim is smaller than that it forms A·B instead.
// The Gram form has absolute error of order ε·‖A‖_F²·‖B‖_F², so a product far
// smaller than ‖A‖_F·‖B‖_F loses relative accuracy.
func (m *FactoredMatrix) Norm() float64 {
	ldim, rdim := m.Dims()
	mdim := m.InnerDim()
	if ldim*rdim <= mdim*(ldim+rdim)/2 {
		return mat.Norm(m.Dense(), 2)
	}
	var ga, gb mat.SymDense
	ga.SymOuterK(1, m.a.T()) // AᵀA [mdim, mdim]
	gb.SymOuterK(1, m.b)     // BBᵀ [mdim, mdim]
	var s float64
	for i := range mdim {
		s += ga.At(i, i) * gb.At(i, i)
		for j := i + 1; j < mdim; j++ {
			s += 2 * ga.At(i, j) * gb.At(i, j)
		}
	}
	return math.Sqrt(max(s, 0))
}

// grow returns dst[:n], allocating if dst is too small.
func grow(dst []float64, n int) []float64 {
	if cap(dst) < n {
		return make([]float64, n)
	}
	return dst[:n]
}

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }
