package nn

import (
	"fmt"
	"math"

	"github.com/mechinterp/workbench/tensor"
)

// BatchNorm holds the dimensions of batch normalisation (Ioffe & Szegedy
// 2015, PyTorch's nn.BatchNorm1d and nn.BatchNorm2d) over x viewed as
// [Batch, C, Spatial]: BatchNorm1d on [N, C] (Spatial 1) or [N, C, L],
// BatchNorm2d on [N, C, H, W] (Spatial H·W). Statistics are per channel over
// the M = Batch·Spatial values of that channel:
//
//	x̂ = (x − mean[c]) / √(variance[c] + Eps)     y = γ[c]·x̂ + β[c]
//
// In training the statistics are the batch's (variance biased, divided by
// M); in evaluation they are the running statistics the caller passes in.
type BatchNorm struct {
	Batch, C, Spatial int
	Eps               float32 // PyTorch's default is 1e-5
	// Training selects batch statistics, written by the forward pass and
	// differentiated by the backward pass; otherwise the given statistics
	// are read and treated as constants.
	Training bool
}

// Len returns the length of x, Batch·C·Spatial.
func (d BatchNorm) Len() int { return d.Batch * d.C * d.Spatial }

// Count returns M = Batch·Spatial, the number of values per channel.
func (d BatchNorm) Count() int { return d.Batch * d.Spatial }

func (d BatchNorm) check(op string) {
	if d.Batch < 0 || d.C < 1 || d.Spatial < 1 || !(d.Eps >= 0) || (d.Training && d.Batch < 1) {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("invalid dimensions %+v", d)})
	}
}

// channel returns the Spatial values of image n, channel c.
func (d BatchNorm) channel(x []float32, n, c int) []float32 {
	o := (n*d.C + c) * d.Spatial
	return x[o : o+d.Spatial]
}

// invStd returns 1/√(variance + Eps) in float64.
func (d BatchNorm) invStd(variance float32) float64 {
	return 1 / math.Sqrt(float64(variance)+float64(d.Eps))
}

// BatchNormForward normalises x [Batch, C, Spatial] per channel into
// xhat (x̂, TransformerLens-style hook point bn.hook_normalized) and writes
// y = γ·x̂ + β; gamma and beta [C] may be nil (γ = 1, β = 0: affine off).
// mean and variance [C] are outputs in training (the batch mean and biased
// variance, which BatchNormBackward and BatchNormUpdateRunning need) and
// inputs in evaluation (the running statistics). Statistics are accumulated
// in float32 blocks summed in float64 (see shiftedSums32), shifted by the
// channel's first value so that a large mean does not cancel the variance.
// y and xhat may not alias x.
//
// It panics with a tensor.ShapeError if the dimensions are invalid or a slice
// is shorter than its shape.
func BatchNormForward(y, xhat, mean, variance, x, gamma, beta []float32, d BatchNorm) {
	const op = "BatchNormForward"
	d.check(op)
	checkBN(op, d, y, xhat, x, gamma, beta)
	bnNeed(op, d, y, xhat, x)
	lenAtLeast(op, "len(mean)", len(mean), d.C)
	lenAtLeast(op, "len(variance)", len(variance), d.C)
	if d.Training {
		for c := range d.C {
			shift := d.channel(x, 0, c)[0]
			var s, q float64
			for n := range d.Batch {
				sn, qn := shiftedSums32(d.channel(x, n, c), shift)
				s, q = s+sn, q+qn
			}
			m := s / float64(d.Count())
			mean[c] = float32(float64(shift) + m)
			variance[c] = float32(max(q/float64(d.Count())-m*m, 0))
		}
	}
	for c := range d.C {
		mu, inv := mean[c], float32(d.invStd(variance[c]))
		g, b := float32(1), float32(0)
		if gamma != nil {
			g = gamma[c]
		}
		if beta != nil {
			b = beta[c]
		}
		for n := range d.Batch {
			xs, hs, ys := d.channel(x, n, c), d.channel(xhat, n, c), d.channel(y, n, c)
			hs, ys = hs[:len(xs)], ys[:len(xs)]
			for i, v := range xs {
				h := (v - mu) * inv
				hs[i] = h
				ys[i] = g*h + b
			}
		}
	}
}

// BatchNormBackward accumulates the gradients of BatchNormForward given dy
// [Batch, C, Spatial] and the forward's xhat, variance and gamma (nil for
// γ = 1):
//
//	dβ += Σ dy        dγ += Σ dy·x̂      (per channel; skipped if nil)
//	dx += γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂))   in training
//	dx += γ/σ · dy                                  in evaluation
//
// with σ = √(variance + Eps) and means over the channel's M values. It reads
// x̂ as saved: when a hook has edited x̂, use BatchNormAffineBackward and
// BatchNormNormalizeBackward, which recompute the normalisation from x.
// dx may be nil (skipped). It panics with a tensor.ShapeError if the
// dimensions are invalid or a slice is shorter than its shape.
func BatchNormBackward(dx, dgamma, dbeta, dy, xhat, variance, gamma []float32, d BatchNorm) {
	const op = "BatchNormBackward"
	d.check(op)
	checkBN(op, d, dx, dy, xhat, gamma, dgamma, dbeta)
	bnNeed(op, d, dy, xhat)
	if dx != nil {
		lenAtLeast(op, "len(variance)", len(variance), d.C)
	}
	for c := range d.C {
		var sdy, sdyh float64
		for n := range d.Batch {
			a, b := sumAndDot(d.channel(dy, n, c), d.channel(xhat, n, c))
			sdy, sdyh = sdy+a, sdyh+b
		}
		if dbeta != nil {
			dbeta[c] = float32(float64(dbeta[c]) + sdy)
		}
		if dgamma != nil {
			dgamma[c] = float32(float64(dgamma[c]) + sdyh)
		}
		if dx == nil {
			continue
		}
		g := 1.0
		if gamma != nil {
			g = float64(gamma[c])
		}
		k := float32(g * d.invStd(variance[c]))
		a, b := float32(0), float32(0)
		if d.Training {
			a, b = float32(sdy/float64(d.Count())), float32(sdyh/float64(d.Count()))
		}
		for n := range d.Batch {
			dxs, dys, hs := d.channel(dx, n, c), d.channel(dy, n, c), d.channel(xhat, n, c)
			dxs, hs = dxs[:len(dys)], hs[:len(dys)]
			for i, v := range dys {
				dxs[i] += k * (v - a - hs[i]*b)
			}
		}
	}
}

// BatchNormAffineBackward is the first half of BatchNormBackward, for models
// that hook x̂'s gradient: given dy and the forward's (possibly hook-edited)
// xhat, it accumulates dxhat += γ·dy (skipped if nil), dγ += Σ dy·x̂ and
// dβ += Σ dy (each skipped if nil). gamma nil means γ = 1. It panics with a
// tensor.ShapeError if the dimensions are invalid or a slice is shorter than
// its shape.
func BatchNormAffineBackward(dxhat, dgamma, dbeta, dy, xhat, gamma []float32, d BatchNorm) {
	const op = "BatchNormAffineBackward"
	d.check(op)
	checkBN(op, d, dxhat, dy, xhat, gamma, dgamma, dbeta)
	bnNeed(op, d, dy, xhat)
	for c := range d.C {
		g := float32(1)
		if gamma != nil {
			g = gamma[c]
		}
		var sdy, sdyh float64
		for n := range d.Batch {
			dys := d.channel(dy, n, c)
			if dgamma != nil || dbeta != nil {
				a, b := sumAndDot(dys, d.channel(xhat, n, c))
				sdy, sdyh = sdy+a, sdyh+b
			}
			if dxhat != nil {
				tensor.Axpy(g, dys, d.channel(dxhat, n, c))
			}
		}
		if dbeta != nil {
			dbeta[c] = float32(float64(dbeta[c]) + sdy)
		}
		if dgamma != nil {
			dgamma[c] = float32(float64(dgamma[c]) + sdyh)
		}
	}
}

// BatchNormNormalizeBackward is the second half of BatchNormBackward: given
// dxhat, the gradient with respect to x̂, and the forward's x, mean and
// variance, it accumulates into dx the gradient through x̂ = (x − mean)/σ,
//
//	dx += (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ   in training
//	dx += dx̂ / σ                                 in evaluation
//
// with x̂ recomputed from x (so an edit a hook made to the saved x̂ does not
// enter). dx nil is skipped. It panics with a tensor.ShapeError if the
// dimensions are invalid or a slice is shorter than its shape.
func BatchNormNormalizeBackward(dx, dxhat, x, mean, variance []float32, d BatchNorm) {
	const op = "BatchNormNormalizeBackward"
	d.check(op)
	if dx == nil {
		return
	}
	bnNeed(op, d, dx, dxhat, x)
	lenAtLeast(op, "len(mean)", len(mean), d.C)
	lenAtLeast(op, "len(variance)", len(variance), d.C)
	for c := range d.C {
		mu, inv := float64(mean[c]), d.invStd(variance[c])
		a, b := float32(0), float32(0)
		if d.Training {
			var sg, sgx float64
			for n := range d.Batch {
				gs, xs := d.channel(dxhat, n, c), d.channel(x, n, c)
				for i, v := range gs {
					sg += float64(v)
					sgx += float64(v) * (float64(xs[i]) - mu)
				}
			}
			a, b = float32(sg/float64(d.Count())), float32(sgx*inv/float64(d.Count()))
		}
		m32, inv32 := float32(mu), float32(inv)
		for n := range d.Batch {
			dxs, gs, xs := d.channel(dx, n, c), d.channel(dxhat, n, c), d.channel(x, n, c)
			for i, v := range gs {
				h := (xs[i] - m32) * inv32
				dxs[i] += inv32 * (v - a - h*b)
			}
		}
	}
}

// BatchNormUpdateRunning folds one training batch's statistics into the
// running statistics [C] as PyTorch does with momentum m (PyTorch's default
// 0.1): runMean = (1−m)·runMean + m·mean and runVar = (1−m)·runVar +
// m·variance·count/(count−1), the variance made unbiased over the count
// values per channel (Batch·Spatial; with count 1 it is used as is). It
// panics with a tensor.ShapeError if a slice is shorter than the others.
func BatchNormUpdateRunning(runMean, runVar, mean, variance []float32, count int, momentum float32) {
	sameLen("BatchNormUpdateRunning", runMean, runVar, mean[:len(runMean)], variance[:len(runMean)])
	unbias := float32(1)
	if count > 1 {
		unbias = float32(float64(count) / float64(count-1))
	}
	for c := range runMean {
		runMean[c] = (1-momentum)*runMean[c] + momentum*mean[c]
		runVar[c] = (1-momentum)*runVar[c] + momentum*variance[c]*unbias
	}
}

// The per-plane reductions below accumulate in float32, in four independent
// lanes over blocks of sumBlock values, and add each block's result in
// float64: a block's rounding error stays near sumBlock/4 · 2⁻²⁴ relative
// (about 1e-6), however many values the channel has, and the loop runs
// without float64 conversions or one long dependency chain.
const sumBlock = 256

// shiftedSums32 returns Σ (x − shift) and Σ (x − shift)² (shift by one of
// the values keeps the sum of squares from cancelling when |mean| ≫ σ).
func shiftedSums32(x []float32, shift float32) (sum, sumSq float64) {
	for len(x) > 0 {
		blk := x[:min(sumBlock, len(x))]
		x = x[len(blk):]
		var s0, s1, s2, s3, q0, q1, q2, q3 float32
		i := 0
		for ; i+4 <= len(blk); i += 4 {
			v := blk[i : i+4 : i+4]
			d0, d1, d2, d3 := v[0]-shift, v[1]-shift, v[2]-shift, v[3]-shift
			s0, s1, s2, s3 = s0+d0, s1+d1, s2+d2, s3+d3
			q0, q1, q2, q3 = q0+d0*d0, q1+d1*d1, q2+d2*d2, q3+d3*d3
		}
		for ; i < len(blk); i++ {
			d := blk[i] - shift
			s0, q0 = s0+d, q0+d*d
		}
		sum += float64((s0 + s1) + (s2 + s3))
		sumSq += float64((q0 + q1) + (q2 + q3))
	}
	return sum, sumSq
}

// sumAndDot returns Σ a and Σ a·b over len(a).
func sumAndDot(a, b []float32) (sa, sab float64) {
	b = b[:len(a)]
	for len(a) > 0 {
		n := min(sumBlock, len(a))
		ab, bb := a[:n], b[:n]
		a, b = a[n:], b[n:]
		var s0, s1, s2, s3, p0, p1, p2, p3 float32
		i := 0
		for ; i+4 <= n; i += 4 {
			u, v := ab[i:i+4:i+4], bb[i:i+4:i+4]
			s0, s1, s2, s3 = s0+u[0], s1+u[1], s2+u[2], s3+u[3]
			p0, p1, p2, p3 = p0+u[0]*v[0], p1+u[1]*v[1], p2+u[2]*v[2], p3+u[3]*v[3]
		}
		for ; i < n; i++ {
			s0, p0 = s0+ab[i], p0+ab[i]*bb[i]
		}
		sa += float64((s0 + s1) + (s2 + s3))
		sab += float64((p0 + p1) + (p2 + p3))
	}
	return sa, sab
}

// bnNeed panics with a tensor.ShapeError unless every xs, nil or not, holds
// [Batch, C, Spatial].
func bnNeed(op string, d BatchNorm, xs ...[]float32) {
	for _, x := range xs {
		lenAtLeast(op, "tensor length", len(x), d.Len())
	}
}

// checkBN panics with a tensor.ShapeError unless the first three slices (the
// [Batch, C, Spatial] tensors; nil ones are skipped) and the rest ([C]
// vectors; nil ones are skipped) are long enough.
func checkBN(op string, d BatchNorm, t0, t1, t2 []float32, perChannel ...[]float32) {
	for _, t := range [...][]float32{t0, t1, t2} {
		if t != nil {
			lenAtLeast(op, "tensor length", len(t), d.Len())
		}
	}
	for _, v := range perChannel {
		if v != nil {
			lenAtLeast(op, "per-channel length", len(v), d.C)
		}
	}
}
