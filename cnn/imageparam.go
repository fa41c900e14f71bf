package cnn

import (
	"math"
	"math/rand/v2"
)

// ImageParam selects how MaximizeUnit represents the image it optimises.
type ImageParam int

const (
	// PixelParam optimises the pixels themselves, clamped to [Lo, Hi]
	// after every step.
	PixelParam ImageParam = iota
	// FourierParam optimises the coefficients P of an orthonormal 2-D
	// cosine basis (DCT-II) per channel, scaled by 1/f^Decay for a basis
	// image of spatial frequency f, and squashes the result into (Lo, Hi)
	// with a sigmoid:
	//
	//	x = Lo + (Hi − Lo)·σ(Dhᵀ·(S ⊙ P)·Dw)
	//
	// Equal steps on every coefficient then move low frequencies far more
	// than high ones, which decorrelates neighbouring pixels and removes
	// the high-frequency patterns a pixel parameterisation produces
	// (Olah et al. 2017, "Feature Visualization", §Preconditioning; Lucid's
	// fft_image uses the real FFT, the cosine basis is its real-valued
	// cousin).
	FourierParam
)

// String returns "pixel" or "fourier".
func (p ImageParam) String() string {
	switch p {
	case PixelParam:
		return "pixel"
	case FourierParam:
		return "fourier"
	}
	return "unknown"
}

// spectral is the FourierParam map from coefficients [C, H, W] to an image
// [C, H, W]; all of it is float64 (the images are small).
type spectral struct {
	c, h, w int
	lo, hi  float64
	dh, dw  []float64 // orthonormal DCT-II matrices [H, H] and [W, W], row k = frequency k
	scale   []float64 // S [H, W]
}

// newSpectral builds the map for [c, h, w] images in (lo, hi) with the
// spectrum scaled by 1/f^decay, f the frequency in cycles per pixel,
// floored at the lowest non-zero one (so the constant image gets the
// lowest frequency's weight, as in Lucid), times √(H·W).
func newSpectral(c, h, w int, lo, hi, decay float64) *spectral {
	s := &spectral{c: c, h: h, w: w, lo: lo, hi: hi, dh: dct(h), dw: dct(w), scale: make([]float64, h*w)}
	fmin := 1 / (2 * float64(max(h, w)))
	// The gain √(H·W) makes a unit step on the constant coefficient a unit
	// step of every pixel before the sigmoid, so that FourierParam and
	// PixelParam share a learning rate's scale.
	gain := math.Sqrt(float64(h * w))
	for ky := range h {
		for kx := range w {
			fy, fx := float64(ky)/(2*float64(h)), float64(kx)/(2*float64(w))
			f := max(math.Hypot(fy, fx), fmin)
			s.scale[ky*w+kx] = gain * math.Pow(fmin/f, decay)
		}
	}
	return s
}

// dct returns the orthonormal DCT-II matrix of size n: D[k][i] =
// α_k·cos(π(i + ½)k/n), α_0 = √(1/n), α_k = √(2/n); D·Dᵀ = I.
func dct(n int) []float64 {
	d := make([]float64, n*n)
	for k := range n {
		a := math.Sqrt(2 / float64(n))
		if k == 0 {
			a = math.Sqrt(1 / float64(n))
		}
		for i := range n {
			d[k*n+i] = a * math.Cos(math.Pi*(float64(i)+0.5)*float64(k)/float64(n))
		}
	}
	return d
}

// init fills p with Gaussian coefficients scaled so that the pixels before
// the sigmoid have standard deviation sd: a noise image, not a flat one.
func (s *spectral) init(p []float64, rng *rand.Rand, sd float64) {
	var ms float64
	for _, v := range s.scale {
		ms += v * v
	}
	// Orthonormal: the mean squared pixel is Σ (S·P)² / (H·W).
	k := sd / math.Sqrt(ms/float64(len(s.scale)))
	for i := range p {
		p[i] = rng.NormFloat64() * k
	}
}

// image writes the image of coefficients p into dst (both [C, H, W]) and
// the sigmoid's outputs into sig (for the backward pass).
func (s *spectral) image(dst []float32, sig, p []float64) {
	h, w := s.h, s.w
	tmp := make([]float64, h*w)
	for ch := range s.c {
		q := p[ch*h*w : (ch+1)*h*w]
		// tmp = Dhᵀ·(S ⊙ P), then pre = tmp·Dw.
		clear(tmp)
		for ky := range h {
			for kx := range w {
				v := s.scale[ky*w+kx] * q[ky*w+kx]
				for y := range h {
					tmp[y*w+kx] += s.dh[ky*h+y] * v
				}
			}
		}
		for y := range h {
			for x := range w {
				var pre float64
				for kx := range w {
					pre += tmp[y*w+kx] * s.dw[kx*w+x]
				}
				sg := 1 / (1 + math.Exp(-pre))
				sig[ch*h*w+y*w+x] = sg
				dst[ch*h*w+y*w+x] = float32(s.lo + (s.hi-s.lo)*sg)
			}
		}
	}
}

// backward writes into dst the gradient with respect to the coefficients
// of a loss whose gradient with respect to the image is g, given the
// sigmoid outputs sig of the forward pass (all [C, H, W]).
func (s *spectral) backward(dst []float64, g []float32, sig []float64) {
	h, w := s.h, s.w
	gp := make([]float64, h*w)
	tmp := make([]float64, h*w)
	for ch := range s.c {
		o := ch * h * w
		for i := range gp {
			sg := sig[o+i]
			gp[i] = float64(g[o+i]) * (s.hi - s.lo) * sg * (1 - sg)
		}
		// tmp = Dh·gp, then dst = S ⊙ (tmp·Dwᵀ).
		for ky := range h {
			for x := range w {
				var v float64
				for y := range h {
					v += s.dh[ky*h+y] * gp[y*w+x]
				}
				tmp[ky*w+x] = v
			}
		}
		for ky := range h {
			for kx := range w {
				var v float64
				for x := range w {
					v += tmp[ky*w+x] * s.dw[kx*w+x]
				}
				dst[o+ky*w+kx] = s.scale[ky*w+kx] * v
			}
		}
	}
}

// warp is a random affine transformation of [c, h, w] images about their
// centre — a translation, a scaling and a rotation — sampled bilinearly,
// with the value fill outside the image. It is linear in the image apart
// from the fill, and its backward pass is its transpose.
type warp struct {
	h, w int
	// For output pixel i: the four source pixels idx[4i:4i+4] (−1 when
	// outside the image) and their bilinear weights.
	idx []int
	wt  []float32
}

// newWarp returns the transformation that maps output pixel p to the
// source point c + R(−θ)·(p − c − t)/s, c the image's centre.
func newWarp(h, w int, dy, dx, s, theta float64) *warp {
	wp := &warp{h: h, w: w, idx: make([]int, 4*h*w), wt: make([]float32, 4*h*w)}
	cy, cx := float64(h-1)/2, float64(w-1)/2
	cos, sin := math.Cos(theta), math.Sin(theta)
	for y := range h {
		for x := range w {
			uy, ux := (float64(y)-cy-dy)/s, (float64(x)-cx-dx)/s
			sy, sx := cy+cos*uy+sin*ux, cx-sin*uy+cos*ux
			y0, x0 := math.Floor(sy), math.Floor(sx)
			fy, fx := sy-y0, sx-x0
			i := 4 * (y*w + x)
			for k, d := range [4][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
				yy, xx := int(y0)+d[0], int(x0)+d[1]
				wy, wx := 1-fy, 1-fx
				if d[0] == 1 {
					wy = fy
				}
				if d[1] == 1 {
					wx = fx
				}
				wp.wt[i+k] = float32(wy * wx)
				wp.idx[i+k] = -1
				if yy >= 0 && yy < h && xx >= 0 && xx < w {
					wp.idx[i+k] = yy*w + xx
				}
			}
		}
	}
	return wp
}

// randomWarp draws a warp with an integer translation of up to ±jitter
// pixels per axis, a scale in [1 − scale, 1 + scale] and a rotation of up
// to ±rotate degrees.
func randomWarp(rng *rand.Rand, h, w, jitter int, scale, rotate float64) *warp {
	dy, dx := 0, 0
	if jitter > 0 {
		dy, dx = rng.IntN(2*jitter+1)-jitter, rng.IntN(2*jitter+1)-jitter
	}
	s := 1 + scale*(2*rng.Float64()-1)
	theta := rotate * (2*rng.Float64() - 1) * math.Pi / 180
	return newWarp(h, w, float64(dy), float64(dx), s, theta)
}

// apply writes the warped src into dst, both [c, h, w].
func (wp *warp) apply(dst, src []float32, c int, fill float32) {
	n := wp.h * wp.w
	for ch := range c {
		s, d := src[ch*n:(ch+1)*n], dst[ch*n:(ch+1)*n]
		for i := range n {
			var v float32
			for k := 4 * i; k < 4*i+4; k++ {
				if j := wp.idx[k]; j >= 0 {
					v += wp.wt[k] * s[j]
				} else {
					v += wp.wt[k] * fill
				}
			}
			d[i] = v
		}
	}
}

// transpose writes into dst (zeroed first) the gradient with respect to
// the source of a loss whose gradient with respect to the warped image is
// g: the transpose of apply's linear part.
func (wp *warp) transpose(dst, g []float32, c int) {
	clear(dst)
	n := wp.h * wp.w
	for ch := range c {
		gs, d := g[ch*n:(ch+1)*n], dst[ch*n:(ch+1)*n]
		for i := range n {
			for k := 4 * i; k < 4*i+4; k++ {
				if j := wp.idx[k]; j >= 0 {
					d[j] += wp.wt[k] * gs[i]
				}
			}
		}
	}
}
