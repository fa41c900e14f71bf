package gan

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Gaussian is the mean and covariance of a set of feature vectors, in
// float64: the summary the Fréchet distance compares.
type Gaussian struct {
	Mean []float64     // [d]
	Cov  *mat.SymDense // [d, d]
	N    int           // the number of vectors it was fitted to (0 if given)
}

// FitGaussian returns the mean and the unbiased covariance (divided by
// n − 1, as numpy.cov in the FID reference implementation) of n feature
// vectors x [n, d], accumulated in float64. It returns an error if n < 2,
// d < 1, x does not hold n·d values or a value is not finite.
func FitGaussian(x []float32, n, d int) (Gaussian, error) {
	if n < 2 || d < 1 || len(x) != n*d {
		return Gaussian{}, fmt.Errorf("gan: fit gaussian: %d values for %d vectors of %d (need n ≥ 2)", len(x), n, d)
	}
	mean := make([]float64, d)
	for i := range n {
		for j, v := range x[i*d : (i+1)*d] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Gaussian{}, fmt.Errorf("gan: fit gaussian: feature %d of vector %d is %v", j, i, v)
			}
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	c := mat.NewDense(n, d, nil)
	for i := range n {
		row := c.RawRowView(i)
		for j, v := range x[i*d : (i+1)*d] {
			row[j] = float64(v) - mean[j]
		}
	}
	cov := mat.NewSymDense(d, nil)
	cov.SymOuterK(1/float64(n-1), c.T()) // Σ = cᵀc/(n−1)
	return Gaussian{Mean: mean, Cov: cov, N: n}, nil
}

// FrechetDistance returns the squared Fréchet (2-Wasserstein) distance
// between two Gaussians (Dowson & Landau 1982), the quantity FID reports
// (Heusel et al. 2017):
//
//	d² = ‖μa − μb‖² + tr Σa + tr Σb − 2 tr (Σa^½ Σb Σa^½)^½
//
// The trace term equals tr (Σa Σb)^½ but is computed from the symmetric
// positive semi-definite product Σa^½ Σb Σa^½, so both square roots come
// from eigen-decompositions of symmetric matrices (eigenvalues below zero,
// rounding errors, are taken as zero). The result is clamped at 0. It
// returns an error if the dimensions differ or a decomposition fails.
func FrechetDistance(a, b Gaussian) (float64, error) {
	d := len(a.Mean)
	if d == 0 || len(b.Mean) != d || a.Cov == nil || b.Cov == nil || a.Cov.SymmetricDim() != d || b.Cov.SymmetricDim() != d {
		return 0, errors.New("gan: frechet distance: gaussians of different or zero dimension")
	}
	var dm float64
	for i := range d {
		dm += (a.Mean[i] - b.Mean[i]) * (a.Mean[i] - b.Mean[i])
	}
	sa, err := SymSqrt(a.Cov)
	if err != nil {
		return 0, err
	}
	var t mat.Dense
	t.Mul(sa, b.Cov)
	t.Mul(&t, sa)
	prod := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			prod.SetSym(i, j, (t.At(i, j)+t.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(prod, false) {
		return 0, errors.New("gan: frechet distance: eigen-decomposition did not converge")
	}
	var cross float64
	for _, v := range eig.Values(nil) {
		cross += math.Sqrt(max(v, 0))
	}
	return max(dm+mat.Trace(a.Cov)+mat.Trace(b.Cov)-2*cross, 0), nil
}

// SymSqrt returns the principal square root U·diag(√max(λ, 0))·Uᵀ of a
// symmetric positive semi-definite matrix s = U·diag(λ)·Uᵀ. It returns an
// error if the eigen-decomposition fails.
func SymSqrt(s mat.Symmetric) (*mat.SymDense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(s, true) {
		return nil, errors.New("gan: matrix square root: eigen-decomposition did not converge")
	}
	vals := eig.Values(nil)
	var u mat.Dense
	eig.VectorsTo(&u)
	d := len(vals)
	scaled := mat.NewDense(d, d, nil)
	for j, v := range vals {
		r := math.Sqrt(max(v, 0))
		for i := range d {
			scaled.Set(i, j, u.At(i, j)*r)
		}
	}
	var p mat.Dense
	p.Mul(scaled, u.T())
	out := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			out.SetSym(i, j, (p.At(i, j)+p.At(j, i))/2)
		}
	}
	return out, nil
}
