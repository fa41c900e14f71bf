package circuits

import (
	"cmp"
	"fmt"
	"math/cmplx"
	"slices"

	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// SVD returns the thin singular value decomposition M = U·diag(S)·Vᵀ with
// U [ldim, k], S [k] in decreasing order and V [rdim, k], k = min(ldim, mdim,
// rdim), computed from the factors: thin QR of A = Q_A·R_A and of
// Bᵀ = Q_B·R_B (a factor that is already short is its own R), then the SVD
// of the small middle matrix R_A·R_Bᵀ = U_m·S·V_mᵀ, so U = Q_A·U_m and
// V = Q_B·V_m. Cost O((ldim+rdim)·mdim²). Like TransformerLens's svd, except
// that V is returned rather than called Vh. Singular vectors are unique only
// up to sign (and rotation within repeated values). The error wraps
// ErrNoConvergence if LAPACK's SVD fails.
func (m *FactoredMatrix) SVD() (u *mat.Dense, s []float64, v *mat.Dense, err error) {
	qa, ra := thinQR(m.a)     // A = qa·ra, ra [ka, mdim]
	qb, rb := thinQR(m.b.T()) // Bᵀ = qb·rb, rb [kb, mdim]
	var middle mat.Dense      // [ka, kb]
	middle.Mul(ra, rb.T())
	var svd mat.SVD
	if !svd.Factorize(&middle, mat.SVDThin) {
		return nil, nil, nil, fmt.Errorf("circuits: SVD of %v: %w", m, ErrNoConvergence)
	}
	s = svd.Values(nil)
	var um, vm mat.Dense
	svd.UTo(&um) // [ka, k]
	svd.VTo(&vm) // [kb, k]
	u, v = &um, &vm
	if qa != nil {
		u = new(mat.Dense)
		u.Mul(qa, &um)
	}
	if qb != nil {
		v = new(mat.Dense)
		v.Mul(qb, &vm)
	}
	return u, s, v, nil
}

// thinQR returns the thin QR factorisation x = q·r of x [rows, cols]: q
// [rows, cols] with orthonormal columns and r [cols, cols] upper triangular.
// When rows <= cols a QR would not shrink anything, and it returns q = nil
// (the identity) and r = x.
func thinQR(x mat.Matrix) (q, r *mat.Dense) {
	rows, cols := x.Dims()
	if rows <= cols {
		return nil, mat.DenseCopyOf(x)
	}
	qd := mat.DenseCopyOf(x)
	a := qd.RawMatrix()
	tau := make([]float64, cols)
	work := make([]float64, 1)
	lapack64.Geqrf(a, tau, work, -1)
	work = make([]float64, int(work[0]))
	lapack64.Geqrf(a, tau, work, len(work))
	r = mat.NewDense(cols, cols, nil)
	for i := range cols {
		for j := i; j < cols; j++ {
			r.Set(i, j, a.Data[i*a.Stride+j])
		}
	}
	lapack64.Orgqr(a, tau, work[:1], -1)
	if n := int(work[0]); n > len(work) {
		work = make([]float64, n)
	}
	lapack64.Orgqr(a, tau, work, len(work))
	return qd, r
}

// CollapseL returns diag(S)·Vᵀ [k, rdim] from the SVD, the matrix M with its
// left orthonormal factor U removed: M = U·CollapseL(), and CollapseL() has
// the Frobenius norm and the row space of M. As TransformerLens's
// collapse_l. The error is SVD's.
func (m *FactoredMatrix) CollapseL() (*mat.Dense, error) {
	_, s, v, err := m.SVD()
	if err != nil {
		return nil, err
	}
	var c mat.Dense
	c.CloneFrom(v.T())
	for i, si := range s {
		row := c.RawRowView(i)
		for j := range row {
			row[j] *= si
		}
	}
	return &c, nil
}

// CollapseR returns U·diag(S) [ldim, k] from the SVD, the matrix M with its
// right orthonormal factor V removed: M = CollapseR()·Vᵀ. As
// TransformerLens's collapse_r. The error is SVD's.
func (m *FactoredMatrix) CollapseR() (*mat.Dense, error) {
	u, s, _, err := m.SVD()
	if err != nil {
		return nil, err
	}
	r, _ := u.Dims()
	for i := range r {
		row := u.RawRowView(i)
		for j, sj := range s {
			row[j] *= sj
		}
	}
	return u, nil
}

// Eigenvalues returns eigenvalues of the square matrix M (ldim == rdim)
// through the smaller of B·A [mdim, mdim] and A·B [ldim, ldim]: if A·Bv = λv
// with λ ≠ 0 then B·A(Bv) = λ(Bv), so the two share their non-zero
// eigenvalues. The result has min(ldim, mdim) values, sorted by decreasing
// modulus (then real part, then imaginary part); it holds every non-zero
// eigenvalue of M, and M's other eigenvalues are zero. TransformerLens's
// eigenvalues always uses B·A. The error wraps mat.ErrSquare if M is not
// square and ErrNoConvergence if LAPACK fails.
func (m *FactoredMatrix) Eigenvalues() ([]complex128, error) {
	small, err := m.smallSquare()
	if err != nil {
		return nil, err
	}
	var e mat.Eigen
	if !e.Factorize(small, mat.EigenNone) {
		return nil, fmt.Errorf("circuits: eigenvalues of %v: %w", m, ErrNoConvergence)
	}
	vals := e.Values(nil)
	slices.SortStableFunc(vals, func(x, y complex128) int {
		return cmp.Or(cmp.Compare(cmplx.Abs(y), cmplx.Abs(x)), cmp.Compare(real(y), real(x)), cmp.Compare(imag(y), imag(x)))
	})
	return vals, nil
}

// smallSquare returns B·A when mdim <= ldim and A·B otherwise, for square M;
// both have M's non-zero eigenvalues and M's trace.
func (m *FactoredMatrix) smallSquare() (*mat.Dense, error) {
	ldim, rdim := m.Dims()
	if ldim != rdim {
		return nil, fmt.Errorf("circuits: eigenvalues of a non-square %v: %w", m, mat.ErrSquare)
	}
	if m.InnerDim() <= ldim {
		return m.BA()
	}
	return m.Dense(), nil
}
