package nn

import (
	"fmt"

	"github.com/mechinterp/workbench/tensor"
)

// Conv2d holds the dimensions of a 2-D convolution (cross-correlation, as in
// PyTorch's nn.Conv2d) over NCHW tensors:
//
//	x [Batch, InC, InH, InW]   w [OutC, InC, KH, KW]   b [OutC]
//	y [Batch, OutC, OutH, OutW],  OutH = (InH + 2·Pad − KH)/Stride + 1
//
// y[n, o, i, j] = b[o] + Σ_{c,p,q} w[o, c, p, q] · x[n, c, i·Stride − Pad + p, j·Stride − Pad + q],
// with x read as 0 outside the image. Stride and padding are the same along
// both axes; kernels and images may be non-square.
type Conv2d struct {
	Batch         int // N
	InC, InH, InW int // input channels, height, width
	OutC          int // output channels
	KH, KW        int // kernel height and width
	Stride        int // ≥ 1
	Pad           int // zero padding on every side, ≥ 0
}

// OutH returns the output height, (InH + 2·Pad − KH)/Stride + 1.
func (d Conv2d) OutH() int { return (d.InH+2*d.Pad-d.KH)/d.Stride + 1 }

// OutW returns the output width, (InW + 2·Pad − KW)/Stride + 1.
func (d Conv2d) OutW() int { return (d.InW+2*d.Pad-d.KW)/d.Stride + 1 }

// InLen, OutLen and WeightLen return the lengths of x, y and w.
func (d Conv2d) InLen() int { return d.Batch * d.InC * d.InH * d.InW }

// OutLen returns the length of y, Batch·OutC·OutH·OutW.
func (d Conv2d) OutLen() int { return d.Batch * d.OutC * d.OutH() * d.OutW() }

// WeightLen returns the length of w, OutC·InC·KH·KW.
func (d Conv2d) WeightLen() int { return d.OutC * d.InC * d.KH * d.KW }

// Pointwise reports whether the convolution is a plain matrix product per
// image (1×1 kernel, stride 1, no padding), which needs no im2col scratch.
func (d Conv2d) Pointwise() bool { return d.KH == 1 && d.KW == 1 && d.Stride == 1 && d.Pad == 0 }

// ColLen returns the length of the im2col scratch buffer the convolution
// needs: one image's columns, InC·KH·KW × OutH·OutW, or 0 when Pointwise.
func (d Conv2d) ColLen() int {
	if d.Pointwise() {
		return 0
	}
	return d.InC * d.KH * d.KW * d.OutH() * d.OutW()
}

// window returns the im2col geometry of the convolution's input.
func (d Conv2d) window() window {
	return window{c: d.InC, h: d.InH, w: d.InW, kh: d.KH, kw: d.KW, stride: d.Stride, pad: d.Pad, oh: d.OutH(), ow: d.OutW()}
}

func (d Conv2d) check(op string) {
	if d.Batch < 0 || d.InC < 1 || d.InH < 1 || d.InW < 1 || d.OutC < 1 || d.KH < 1 || d.KW < 1 ||
		d.Stride < 1 || d.Pad < 0 || d.InH+2*d.Pad < d.KH || d.InW+2*d.Pad < d.KW {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("invalid dimensions %+v", d)})
	}
}

// Conv2dForward computes the convolution y = conv(x, w) + b described by d
// (see Conv2d for the shapes) by im2col and one tensor.Gemm per image:
// y[n] [OutC, OutH·OutW] = w [OutC, InC·KH·KW] · col [InC·KH·KW, OutH·OutW].
// b may be nil (no bias). col is scratch of at least d.ColLen() elements
// (nil when d.Pointwise()); its contents are not needed afterwards. y is
// overwritten and must not alias x, w or col.
//
// It panics with a tensor.ShapeError if the dimensions are invalid or a slice
// is shorter than its shape.
func Conv2dForward(y, x, w, b, col []float32, d Conv2d) {
	const op = "Conv2dForward"
	d.check(op)
	g := d.window()
	ohw, k := g.oh*g.ow, d.InC*d.KH*d.KW
	inImg, outImg := d.InC*d.InH*d.InW, d.OutC*ohw
	lenAtLeast(op, "len(x)", len(x), d.InLen())
	lenAtLeast(op, "len(y)", len(y), d.OutLen())
	lenAtLeast(op, "len(w)", len(w), d.WeightLen())
	lenAtLeast(op, "len(col)", len(col), d.ColLen())
	if b != nil {
		lenAtLeast(op, "len(b)", len(b), d.OutC)
	}
	for n := range d.Batch {
		xn, yn := x[n*inImg:(n+1)*inImg], y[n*outImg:(n+1)*outImg]
		src := xn
		if !d.Pointwise() {
			g.im2col(col, xn)
			src = col
		}
		beta := fillBias(yn, b, d.OutC, ohw)
		tensor.Gemm(false, false, d.OutC, ohw, k, 1, w, k, src, ohw, beta, yn, ohw)
	}
}

// Conv2dBackward accumulates the gradients of Conv2dForward given dy
// [Batch, OutC, OutH, OutW] and the forward's x and w:
//
//	dw [OutC, InC, KH, KW] += Σ_n dy[n]·col[n]ᵀ   (skipped if dw is nil)
//	db [OutC]              += Σ_{n,i,j} dy         (skipped if db is nil)
//	dx [Batch, InC, InH, InW] += col2im(wᵀ·dy[n]) (skipped if dx is nil)
//
// col is scratch of at least d.ColLen() elements: the im2col columns are
// recomputed per image from x rather than kept from the forward pass, which
// keeps them in cache. It panics with a tensor.ShapeError if the dimensions
// are invalid or a slice is shorter than its shape.
func Conv2dBackward(dx, dw, db, dy, x, w, col []float32, d Conv2d) {
	const op = "Conv2dBackward"
	d.check(op)
	g := d.window()
	ohw, k := g.oh*g.ow, d.InC*d.KH*d.KW
	inImg, outImg := d.InC*d.InH*d.InW, d.OutC*ohw
	lenAtLeast(op, "len(dy)", len(dy), d.OutLen())
	if dw != nil {
		lenAtLeast(op, "len(x)", len(x), d.InLen())
		lenAtLeast(op, "len(dw)", len(dw), d.WeightLen())
	}
	if dx != nil {
		lenAtLeast(op, "len(dx)", len(dx), d.InLen())
		lenAtLeast(op, "len(w)", len(w), d.WeightLen())
	}
	if dw != nil || dx != nil {
		lenAtLeast(op, "len(col)", len(col), d.ColLen())
	}
	if db != nil {
		lenAtLeast(op, "len(db)", len(db), d.OutC)
		channelSumAdd(db[:d.OutC], dy, d.Batch, d.OutC, ohw)
	}
	for n := range d.Batch {
		dyn := dy[n*outImg : (n+1)*outImg]
		if dw != nil {
			src := x[n*inImg : (n+1)*inImg]
			if !d.Pointwise() {
				g.im2col(col, src)
				src = col
			}
			// dw [OutC, k] += dy[n] [OutC, ohw] · srcᵀ [ohw, k]
			tensor.Gemm(false, true, d.OutC, k, ohw, 1, dyn, ohw, src, ohw, 1, dw, k)
		}
		if dx != nil {
			dxn := dx[n*inImg : (n+1)*inImg]
			if d.Pointwise() {
				tensor.Gemm(true, false, k, ohw, d.OutC, 1, w, k, dyn, ohw, 1, dxn, ohw)
				continue
			}
			// col [k, ohw] = wᵀ [k, OutC] · dy[n] [OutC, ohw], then scattered back.
			tensor.Gemm(true, false, k, ohw, d.OutC, 1, w, k, dyn, ohw, 0, col, ohw)
			g.col2imAdd(dxn, col)
		}
	}
}

// ConvTranspose2d holds the dimensions of a transposed 2-D convolution
// (PyTorch's nn.ConvTranspose2d, the adjoint of Conv2d with the same kernel,
// stride and padding) over NCHW tensors:
//
//	x [Batch, InC, InH, InW]   w [InC, OutC, KH, KW]   b [OutC]
//	y [Batch, OutC, OutH, OutW],  OutH = (InH − 1)·Stride − 2·Pad + KH + OutPad
//
// y[n, o, i·Stride − Pad + p, j·Stride − Pad + q] += x[n, c, i, j] · w[c, o, p, q],
// dropping contributions that land outside y. OutPad < Stride adds rows and
// columns at the bottom and right so that several output sizes can map to
// one input size, as in PyTorch's output_padding.
type ConvTranspose2d struct {
	Batch         int // N
	InC, InH, InW int // input channels, height, width
	OutC          int // output channels
	KH, KW        int // kernel height and width
	Stride        int // ≥ 1
	Pad           int // ≥ 0
	OutPad        int // in [0, Stride)
}

// OutH returns the output height, (InH − 1)·Stride − 2·Pad + KH + OutPad.
func (d ConvTranspose2d) OutH() int { return (d.InH-1)*d.Stride - 2*d.Pad + d.KH + d.OutPad }

// OutW returns the output width, (InW − 1)·Stride − 2·Pad + KW + OutPad.
func (d ConvTranspose2d) OutW() int { return (d.InW-1)*d.Stride - 2*d.Pad + d.KW + d.OutPad }

// InLen returns the length of x, Batch·InC·InH·InW.
func (d ConvTranspose2d) InLen() int { return d.Batch * d.InC * d.InH * d.InW }

// OutLen returns the length of y, Batch·OutC·OutH·OutW.
func (d ConvTranspose2d) OutLen() int { return d.Batch * d.OutC * d.OutH() * d.OutW() }

// WeightLen returns the length of w, InC·OutC·KH·KW.
func (d ConvTranspose2d) WeightLen() int { return d.InC * d.OutC * d.KH * d.KW }

// Pointwise reports whether the layer is a plain matrix product per image
// (1×1 kernel, stride 1, no padding), which needs no scratch.
func (d ConvTranspose2d) Pointwise() bool {
	return d.KH == 1 && d.KW == 1 && d.Stride == 1 && d.Pad == 0 && d.OutPad == 0
}

// ColLen returns the length of the scratch buffer the layer needs: one
// image's columns, OutC·KH·KW × InH·InW, or 0 when Pointwise.
func (d ConvTranspose2d) ColLen() int {
	if d.Pointwise() {
		return 0
	}
	return d.OutC * d.KH * d.KW * d.InH * d.InW
}

// window returns the im2col geometry of the output, which the forward
// convolution would map back onto the input grid.
func (d ConvTranspose2d) window() window {
	return window{c: d.OutC, h: d.OutH(), w: d.OutW(), kh: d.KH, kw: d.KW, stride: d.Stride, pad: d.Pad, oh: d.InH, ow: d.InW}
}

func (d ConvTranspose2d) check(op string) {
	if d.Batch < 0 || d.InC < 1 || d.InH < 1 || d.InW < 1 || d.OutC < 1 || d.KH < 1 || d.KW < 1 ||
		d.Stride < 1 || d.Pad < 0 || d.OutPad < 0 || d.OutPad >= d.Stride || d.OutH() < 1 || d.OutW() < 1 {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("invalid dimensions %+v", d)})
	}
}

// ConvTranspose2dForward computes the transposed convolution described by d
// (see ConvTranspose2d for the shapes): per image, col [OutC·KH·KW, InH·InW]
// = wᵀ · x[n] by tensor.Gemm, then col2im scatters the columns into y[n],
// which starts from the bias (or 0 if b is nil). col is scratch of at least
// d.ColLen() elements (nil when d.Pointwise()). y is overwritten and must not
// alias x, w or col.
//
// It panics with a tensor.ShapeError if the dimensions are invalid or a slice
// is shorter than its shape.
func ConvTranspose2dForward(y, x, w, b, col []float32, d ConvTranspose2d) {
	const op = "ConvTranspose2dForward"
	d.check(op)
	g := d.window()
	hw, k := d.InH*d.InW, d.OutC*d.KH*d.KW
	inImg, outImg := d.InC*hw, d.OutC*g.h*g.w
	lenAtLeast(op, "len(x)", len(x), d.InLen())
	lenAtLeast(op, "len(y)", len(y), d.OutLen())
	lenAtLeast(op, "len(w)", len(w), d.WeightLen())
	lenAtLeast(op, "len(col)", len(col), d.ColLen())
	if b != nil {
		lenAtLeast(op, "len(b)", len(b), d.OutC)
	}
	for n := range d.Batch {
		xn, yn := x[n*inImg:(n+1)*inImg], y[n*outImg:(n+1)*outImg]
		beta := fillBias(yn, b, d.OutC, g.h*g.w)
		if d.Pointwise() {
			tensor.Gemm(true, false, d.OutC, hw, d.InC, 1, w, d.OutC, xn, hw, beta, yn, hw)
			continue
		}
		tensor.Gemm(true, false, k, hw, d.InC, 1, w, k, xn, hw, 0, col, hw)
		if beta == 0 {
			clear(yn)
		}
		g.col2imAdd(yn, col)
	}
}

// ConvTranspose2dBackward accumulates the gradients of ConvTranspose2dForward
// given dy [Batch, OutC, OutH, OutW] and the forward's x and w; with
// col[n] = im2col(dy[n]) [OutC·KH·KW, InH·InW]:
//
//	dw [InC, OutC, KH, KW]    += Σ_n x[n]·col[n]ᵀ  (skipped if dw is nil)
//	db [OutC]                 += Σ_{n,i,j} dy       (skipped if db is nil)
//	dx [Batch, InC, InH, InW] += w·col[n]           (skipped if dx is nil)
//
// col is scratch of at least d.ColLen() elements. It panics with a
// tensor.ShapeError if the dimensions are invalid or a slice is shorter than
// its shape.
func ConvTranspose2dBackward(dx, dw, db, dy, x, w, col []float32, d ConvTranspose2d) {
	const op = "ConvTranspose2dBackward"
	d.check(op)
	g := d.window()
	hw, k := d.InH*d.InW, d.OutC*d.KH*d.KW
	inImg, outImg := d.InC*hw, d.OutC*g.h*g.w
	lenAtLeast(op, "len(dy)", len(dy), d.OutLen())
	if dw != nil {
		lenAtLeast(op, "len(x)", len(x), d.InLen())
		lenAtLeast(op, "len(dw)", len(dw), d.WeightLen())
	}
	if dx != nil {
		lenAtLeast(op, "len(dx)", len(dx), d.InLen())
		lenAtLeast(op, "len(w)", len(w), d.WeightLen())
	}
	if dw != nil || dx != nil {
		lenAtLeast(op, "len(col)", len(col), d.ColLen())
	}
	if db != nil {
		lenAtLeast(op, "len(db)", len(db), d.OutC)
		channelSumAdd(db[:d.OutC], dy, d.Batch, d.OutC, g.h*g.w)
	}
	if dw == nil && dx == nil {
		return
	}
	for n := range d.Batch {
		src := dy[n*outImg : (n+1)*outImg]
		if !d.Pointwise() {
			g.im2col(col, src)
			src = col
		}
		if dw != nil {
			// dw [InC, k] += x[n] [InC, hw] · srcᵀ [hw, k]
			tensor.Gemm(false, true, d.InC, k, hw, 1, x[n*inImg:(n+1)*inImg], hw, src, hw, 1, dw, k)
		}
		if dx != nil {
			// dx[n] [InC, hw] += w [InC, k] · src [k, hw]
			tensor.Gemm(false, false, d.InC, hw, k, 1, w, k, src, hw, 1, dx[n*inImg:(n+1)*inImg], hw)
		}
	}
}

// window is the geometry of im2col: an image [c, h, w] read by a kh×kw
// kernel with the given stride and zero padding at oh×ow positions.
type window struct {
	c, h, w, kh, kw, stride, pad, oh, ow int
}

// cols returns the valid output columns [lo, hi) for kernel column kj: those
// whose input column ox·stride − pad + kj lies in [0, w).
func (g window) cols(kj int) (lo, hi int) {
	lo = max(0, ceilDiv(g.pad-kj, g.stride))
	hi = min(g.ow, floorDiv(g.w+g.pad-kj-1, g.stride)+1)
	return lo, max(lo, hi)
}

// im2col writes the columns of img [c, h, w] into col [c·kh·kw, oh·ow]:
// col[(ch·kh + p)·kw + q, i·ow + j] = img[ch, i·stride − pad + p, j·stride − pad + q],
// 0 outside the image.
func (g window) im2col(col, img []float32) {
	ohw, s := g.oh*g.ow, g.stride
	row := 0
	for ch := range g.c {
		plane := img[ch*g.h*g.w : (ch+1)*g.h*g.w]
		for p := range g.kh {
			for q := range g.kw {
				dst := col[row*ohw : (row+1)*ohw]
				row++
				if g.sameWidth() {
					g.im2colRowSame(dst, plane, p, q)
					continue
				}
				lo, hi := g.cols(q)
				off := q - g.pad
				for i := range g.oh {
					d := dst[i*g.ow : (i+1)*g.ow]
					iy := i*s - g.pad + p
					if iy < 0 || iy >= g.h {
						clear(d)
						continue
					}
					for j := range lo {
						d[j] = 0 // padding: a column or two, cheaper than a memclr call
					}
					for j := hi; j < len(d); j++ {
						d[j] = 0
					}
					src := plane[iy*g.w : (iy+1)*g.w]
					if s == 1 {
						copy(d[lo:hi], src[lo+off:hi+off])
						continue
					}
					for j := lo; j < hi; j++ {
						d[j] = src[j*s+off]
					}
				}
			}
		}
	}
}

// sameWidth reports whether output rows are as wide as input rows with
// stride 1 ("same" padding, 3×3 with padding 1): then the valid part of an
// im2col row is one contiguous, shifted copy of the image plane.
func (g window) sameWidth() bool { return g.stride == 1 && g.ow == g.w }

// sameRows returns, for kernel offsets (p, q) of a sameWidth window, the
// valid output rows [i0, i1), the offset between an output position and its
// input position (input index = output index + shift), and the valid columns
// [lo, hi); the columns outside are padding that a contiguous copy fills
// with neighbouring rows' values.
func (g window) sameRows(p, q int) (i0, i1, shift, lo, hi int) {
	i0, i1 = max(0, g.pad-p), min(g.oh, g.h+g.pad-p)
	lo, hi = g.cols(q)
	return i0, max(i0, i1), (p-g.pad)*g.w + q - g.pad, lo, hi
}

// im2colRowSame fills one im2col row dst [oh·ow] of a sameWidth window for
// kernel offsets (p, q) with one copy, then zeroes the padding.
func (g window) im2colRowSame(dst, plane []float32, p, q int) {
	i0, i1, shift, lo, hi := g.sameRows(p, q)
	clear(dst[:i0*g.ow])
	clear(dst[i1*g.ow:])
	a, b := i0*g.ow, i1*g.ow // dst[k] = plane[k+shift] for k in [a, b), clipped to the plane
	a, b = max(a, -shift), min(b, len(plane)-shift)
	if a < b {
		copy(dst[a:b], plane[a+shift:b+shift])
	}
	for i := i0; i < i1; i++ {
		r := dst[i*g.ow : (i+1)*g.ow]
		for j := range lo {
			r[j] = 0
		}
		for j := hi; j < len(r); j++ {
			r[j] = 0
		}
	}
}

// col2imAdd is the adjoint of im2col: it adds every column entry back onto
// the image position it was read from, dropping padding. It may overwrite
// col's padding entries.
func (g window) col2imAdd(img, col []float32) {
	ohw, s := g.oh*g.ow, g.stride
	row := 0
	for ch := range g.c {
		plane := img[ch*g.h*g.w : (ch+1)*g.h*g.w]
		for p := range g.kh {
			for q := range g.kw {
				src := col[row*ohw : (row+1)*ohw]
				row++
				lo, hi := g.cols(q)
				if g.sameWidth() {
					// Zero the padding entries, then add the valid rows in
					// one contiguous pass.
					i0, i1, shift, _, _ := g.sameRows(p, q)
					for i := i0; i < i1; i++ {
						r := src[i*g.ow : (i+1)*g.ow]
						for j := range lo {
							r[j] = 0
						}
						for j := hi; j < len(r); j++ {
							r[j] = 0
						}
					}
					a, b := max(i0*g.ow, -shift), min(i1*g.ow, len(plane)-shift)
					if a < b {
						tensor.Axpy(1, src[a:b], plane[a+shift:b+shift])
					}
					continue
				}
				for i := range g.oh {
					iy := i*s - g.pad + p
					if iy < 0 || iy >= g.h || lo >= hi {
						continue
					}
					d := src[i*g.ow+lo : i*g.ow+hi]
					dst := plane[iy*g.w : (iy+1)*g.w]
					off := q - g.pad
					if s == 1 {
						tensor.Axpy(1, d, dst[lo+off:hi+off])
						continue
					}
					for j, v := range d {
						dst[(lo+j)*s+off] += v
					}
				}
			}
		}
	}
}

// fillBias sets every row of y [c, n] to its bias b[c] and returns 1, the
// GEMM beta that adds onto it; with b nil it returns 0 and leaves y alone.
func fillBias(y, b []float32, c, n int) float32 {
	if b == nil {
		return 0
	}
	for i := range c {
		fill(y[i*n:(i+1)*n], b[i])
	}
	return 1
}

// fill sets every element of x to v by doubling copies, which run at memmove
// speed rather than one scalar store per element.
func fill(x []float32, v float32) {
	if len(x) == 0 {
		return
	}
	x[0] = v
	for k := 1; k < len(x); k *= 2 {
		copy(x[k:], x[:k])
	}
}

// channelSumAdd adds to dst [c] the sums of y [batch, c, s] over batch and s,
// in float64.
func channelSumAdd(dst, y []float32, batch, c, s int) {
	for ch := range c {
		var acc float64
		for n := range batch {
			acc += sum64(y[(n*c+ch)*s : (n*c+ch+1)*s])
		}
		dst[ch] = float32(float64(dst[ch]) + acc)
	}
}

// sum64 returns Σ x in float64 with four independent accumulators, so that
// the loop is not bound by the latency of one add.
func sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// ceilDiv and floorDiv divide rounding towards +∞ and −∞, for any signs of a
// and a positive b.
func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}
