package nn

import (
	"fmt"
	"math"

	"github.com/mechinterp/workbench/tensor"
)

// Pool2d holds the dimensions of a 2-D pooling layer over NCHW tensors
// (PyTorch's nn.MaxPool2d and nn.AvgPool2d with dilation 1 and ceil_mode
// off):
//
//	x [Batch, C, H, W]   y [Batch, C, OutH, OutW],  OutH = (H + 2·Pad − KH)/Stride + 1
//
// Window (i, j) covers rows i·Stride − Pad … i·Stride − Pad + KH − 1 and the
// matching columns. Pad must not exceed half the kernel, as in PyTorch, so
// that every window overlaps the image.
type Pool2d struct {
	Batch, C, H, W int
	KH, KW         int // window height and width
	Stride         int // ≥ 1; PyTorch's default is the kernel size
	Pad            int // ≥ 0, at most KH/2 and KW/2
}

// OutH returns the output height, (H + 2·Pad − KH)/Stride + 1.
func (d Pool2d) OutH() int { return (d.H+2*d.Pad-d.KH)/d.Stride + 1 }

// OutW returns the output width, (W + 2·Pad − KW)/Stride + 1.
func (d Pool2d) OutW() int { return (d.W+2*d.Pad-d.KW)/d.Stride + 1 }

// InLen returns the length of x, Batch·C·H·W.
func (d Pool2d) InLen() int { return d.Batch * d.C * d.H * d.W }

// OutLen returns the length of y, Batch·C·OutH·OutW.
func (d Pool2d) OutLen() int { return d.Batch * d.C * d.OutH() * d.OutW() }

func (d Pool2d) check(op string) {
	if d.Batch < 0 || d.C < 1 || d.H < 1 || d.W < 1 || d.KH < 1 || d.KW < 1 || d.Stride < 1 ||
		d.Pad < 0 || 2*d.Pad > d.KH || 2*d.Pad > d.KW || d.H+2*d.Pad < d.KH || d.W+2*d.Pad < d.KW {
		panic(tensor.ShapeError{Op: "nn." + op, Msg: fmt.Sprintf("invalid dimensions %+v", d)})
	}
}

// span returns the input range [lo, hi) covered by window index o along an
// axis of length n with kernel k, clipped to the image.
func (d Pool2d) span(o, k, n int) (lo, hi int) {
	s := o*d.Stride - d.Pad
	return max(s, 0), min(s+k, n)
}

// MaxPool2dForward writes the window maxima of x into y and, into idx, the
// position of each maximum within its input plane (row·W + column), which
// MaxPool2dBackward needs; idx has y's shape. Ties go to the first maximum in
// row-major order and the first NaN wins, as in PyTorch. Padding never wins.
//
// It panics with a tensor.ShapeError if the dimensions are invalid or a slice
// is shorter than its shape.
func MaxPool2dForward(y []float32, idx []int32, x []float32, d Pool2d) {
	const op = "MaxPool2dForward"
	d.check(op)
	oh, ow, hw := d.OutH(), d.OutW(), d.H*d.W
	lenAtLeast(op, "len(x)", len(x), d.InLen())
	lenAtLeast(op, "len(y)", len(y), d.OutLen())
	lenAtLeast(op, "len(idx)", len(idx), d.OutLen())
	if d.KH == 2 && d.KW == 2 && d.Stride == 2 && d.Pad == 0 {
		maxPool2x2(y, idx, x, d.Batch*d.C, d.H, d.W)
		return
	}
	for p := range d.Batch * d.C {
		plane := x[p*hw : (p+1)*hw]
		yo, io := y[p*oh*ow:], idx[p*oh*ow:]
		for i := range oh {
			r0, r1 := d.span(i, d.KH, d.H)
			for j := range ow {
				c0, c1 := d.span(j, d.KW, d.W)
				best, at := float32(math.Inf(-1)), r0*d.W+c0
				for r := r0; r < r1; r++ {
					for c := c0; c < c1; c++ {
						if v := plane[r*d.W+c]; v > best || (v != v && best == best) {
							best, at = v, r*d.W+c
						}
					}
				}
				yo[i*ow+j], io[i*ow+j] = best, int32(at)
			}
		}
	}
}

// maxPool2x2 is MaxPool2dForward for 2×2 windows with stride 2 and no
// padding over planes [h, w] (odd trailing rows and columns are dropped). The
// maximum comes from the branch-free builtin max and its position from
// comparisons the compiler turns into conditional moves: branching on which
// of four random values is largest mispredicts most of the time. Windows
// holding a NaN take the general path.
func maxPool2x2(y []float32, idx []int32, x []float32, planes, h, w int) {
	oh, ow := h/2, w/2
	for p := range planes {
		plane := x[p*h*w : (p+1)*h*w]
		yo, io := y[p*oh*ow:(p+1)*oh*ow], idx[p*oh*ow:(p+1)*oh*ow]
		for i := range oh {
			r0, r1 := plane[2*i*w:(2*i+1)*w], plane[(2*i+1)*w:(2*i+2)*w]
			yr, ir := yo[i*ow:(i+1)*ow], io[i*ow:(i+1)*ow]
			r0, r1 = r0[:2*len(yr)], r1[:2*len(yr)]
			base := int32(2 * i * w)
			for j := range yr {
				a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
				m := max(max(a, b), max(c, d))
				off := int32(w) + 1 // the first maximum in row-major order
				if c == m {
					off = int32(w)
				}
				if b == m {
					off = 1
				}
				if a == m {
					off = 0
				}
				if m != m {
					off = firstNaN(a, b, c, d, int32(w))
				}
				yr[j], ir[j] = m, base+int32(2*j)+off
			}
		}
	}
}

// firstNaN returns the offset within a 2×2 window (0, 1, w or w+1) of the
// first NaN among its values a, b (top row) and c, d (bottom row).
func firstNaN(a, b, c, d float32, w int32) int32 {
	switch {
	case a != a:
		return 0
	case b != b:
		return 1
	case c != c:
		return w
	}
	return w + 1
}

// MaxPool2dBackward accumulates dx += dy routed to each window's maximum, given
// dy [Batch, C, OutH, OutW] and the forward's idx. dx nil is skipped. It
// panics with a tensor.ShapeError if the dimensions are invalid or a slice is
// shorter than its shape.
func MaxPool2dBackward(dx, dy []float32, idx []int32, d Pool2d) {
	const op = "MaxPool2dBackward"
	d.check(op)
	if dx == nil {
		return
	}
	ohw, hw := d.OutH()*d.OutW(), d.H*d.W
	lenAtLeast(op, "len(dx)", len(dx), d.InLen())
	lenAtLeast(op, "len(dy)", len(dy), d.OutLen())
	lenAtLeast(op, "len(idx)", len(idx), d.OutLen())
	for p := range d.Batch * d.C {
		plane := dx[p*hw : (p+1)*hw]
		g, at := dy[p*ohw:(p+1)*ohw], idx[p*ohw:(p+1)*ohw]
		for k, v := range g {
			plane[at[k]] += v
		}
	}
}

// AvgPool2dForward writes the window means of x into y, counting padding as
// zeros in the divisor KH·KW (PyTorch's count_include_pad=True, its default).
// It panics with a tensor.ShapeError if the dimensions are invalid or a slice
// is shorter than its shape.
func AvgPool2dForward(y, x []float32, d Pool2d) {
	const op = "AvgPool2dForward"
	d.check(op)
	oh, ow, hw := d.OutH(), d.OutW(), d.H*d.W
	lenAtLeast(op, "len(x)", len(x), d.InLen())
	lenAtLeast(op, "len(y)", len(y), d.OutLen())
	inv := 1 / float64(d.KH*d.KW)
	for p := range d.Batch * d.C {
		plane, yo := x[p*hw:(p+1)*hw], y[p*oh*ow:]
		for i := range oh {
			r0, r1 := d.span(i, d.KH, d.H)
			for j := range ow {
				c0, c1 := d.span(j, d.KW, d.W)
				var s float64
				for r := r0; r < r1; r++ {
					s += tensor.Sum(plane[r*d.W+c0 : r*d.W+c1])
				}
				yo[i*ow+j] = float32(s * inv)
			}
		}
	}
}

// AvgPool2dBackward accumulates dx += dy/(KH·KW) over every input of each
// window, given dy [Batch, C, OutH, OutW]. dx nil is skipped. It panics with a
// tensor.ShapeError if the dimensions are invalid or a slice is shorter than
// its shape.
func AvgPool2dBackward(dx, dy []float32, d Pool2d) {
	const op = "AvgPool2dBackward"
	d.check(op)
	if dx == nil {
		return
	}
	oh, ow, hw := d.OutH(), d.OutW(), d.H*d.W
	lenAtLeast(op, "len(dx)", len(dx), d.InLen())
	lenAtLeast(op, "len(dy)", len(dy), d.OutLen())
	inv := 1 / float32(d.KH*d.KW)
	for p := range d.Batch * d.C {
		plane, g := dx[p*hw:(p+1)*hw], dy[p*oh*ow:]
		for i := range oh {
			r0, r1 := d.span(i, d.KH, d.H)
			for j := range ow {
				c0, c1 := d.span(j, d.KW, d.W)
				v := g[i*ow+j] * inv
				for r := r0; r < r1; r++ {
					row := plane[r*d.W+c0 : r*d.W+c1]
					for k := range row {
						row[k] += v
					}
				}
			}
		}
	}
}
