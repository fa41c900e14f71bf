package tensor

import "math"

// Axpy computes y += alpha·x. It panics with a ShapeError if len(y) < len(x).
func Axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Add computes dst[i] = a[i] + b[i] over len(dst).
func Add(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// Scale computes x *= alpha.
func Scale(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Sum returns Σx accumulated in float64.
func Sum(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// Dot returns Σ x[i]·y[i] accumulated in float64 over len(x).
func Dot(x, y []float32) float64 {
	y = y[:len(x)]
	var s float64
	for i, v := range x {
		s += float64(v) * float64(y[i])
	}
	return s
}

// Softmax writes softmax(x) into dst over the first n elements of each, with
// the usual max subtraction. Entries of x equal to -Inf get probability 0.
// len(dst) and len(x) must be ≥ n. Rows that are all -Inf produce zeros.
func Softmax(dst, x []float32, n int) {
	x, dst = x[:n], dst[:n]
	mx := float32(math.Inf(-1))
	for _, v := range x {
		if v > mx {
			mx = v
		}
	}
	if math.IsInf(float64(mx), -1) {
		clear(dst)
		return
	}
	var s float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		dst[i] = e
		s += float64(e)
	}
	inv := float32(1 / s)
	for i := range dst {
		dst[i] *= inv
	}
}

// LogSumExp returns log Σ exp(x[i]) computed stably in float64.
func LogSumExp(x []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	if math.IsInf(mx, -1) {
		return mx
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

// MeanVar returns the mean and the biased variance (mean of squared
// deviations) of x, computed in float64 in two passes.
func MeanVar(x []float32) (mean, variance float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		variance += d * d
	}
	return mean, variance / float64(len(x))
}

// GELU constants: exact GELU is x·Φ(x); "gelu_new" (GPT-2's) is the tanh
// approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
const (
	sqrt2OverPi = 0.7978845608028654
	geluCoef    = 0.044715
	invSqrt2    = 0.7071067811865476
	invSqrt2Pi  = 0.3989422804014327
)

// GELU writes exact (erf) GELU of x into dst.
func GELU(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + math.Erf(f*invSqrt2)))
	}
}

// GELUGrad returns d GELU(x)/dx for the exact form: Φ(x) + x·φ(x).
func GELUGrad(x float64) float64 {
	return 0.5*(1+math.Erf(x*invSqrt2)) + x*invSqrt2Pi*math.Exp(-0.5*x*x)
}

// GELUTanh writes the tanh approximation ("gelu_new") of x into dst.
func GELUTanh(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + math.Tanh(sqrt2OverPi*(f+geluCoef*f*f*f))))
	}
}

// GELUTanhGrad returns the derivative of the tanh approximation at x.
func GELUTanhGrad(x float64) float64 {
	u := sqrt2OverPi * (x + geluCoef*x*x*x)
	t := math.Tanh(u)
	du := sqrt2OverPi * (1 + 3*geluCoef*x*x)
	return 0.5*(1+t) + 0.5*x*(1-t*t)*du
}

// ExpShift writes dst[j] = e^(x[j] − shift) in float32 and returns their sum
// accumulated in float64. Arguments below −87.3 (where e^x leaves float32's
// normal range), −Inf included, give exactly 0. The exponential is a
// range-reduced polynomial, e^a = 2^(n/16)·e^r with n = round(16a/ln2) and
// |r| ≤ ln2/32 (Cody–Waite reduction, cubic Taylor polynomial, a 16-entry
// table of 2^(j/16)); its relative error is below 3e-7 (TestExpShift), and
// it runs several times faster than math.Exp. len(dst) must be ≥ len(x).
func ExpShift(dst, x []float32, shift float32) float64 {
	dst = dst[:len(x)]
	return expShift(dst, x, shift)
}

// expShiftGo is the portable ExpShift and the reference for the AVX-512 one.
func expShiftGo(dst, x []float32, shift float32) float64 {
	const (
		log2e16 = 23.083120654223414 // 16/ln2
		ln2Hi   = 0.0433197021484375 // ln2/16 to 12 bits: n·ln2Hi is exact for |n| < 2048
		ln2Lo   = 1.9966365591e-6    // ln2/16 − ln2Hi
		round   = 12582912           // 1.5·2²³: adding it rounds to an integer
	)
	var sum float64
	for j, v := range x {
		a := v - shift
		var e float32
		if a >= -87.3 {
			if a > 88.7 {
				e = float32(math.Inf(1))
			} else {
				t := a*log2e16 + round // t's low mantissa bits hold n
				n := t - round
				r := (a - n*ln2Hi) - n*ln2Lo
				y := (1 + r) + (r*r)*(0.5+r*(1.0/6))
				k := int32(math.Float32bits(t) - math.Float32bits(round))
				e = y * math.Float32frombits(expPow2[k&15]+uint32(k>>4)<<23)
			}
		} else if a != a { // NaN propagates
			e = a
		}
		dst[j] = e
		sum += float64(e)
	}
	return sum
}

// expPow2 holds the float32 bits of 2^(j/16), j = 0..15.
var expPow2 = [16]uint32{
	0x3f800000, 0x3f85aac3, 0x3f8b95c2, 0x3f91c3d3, 0x3f9837f0, 0x3f9ef532, 0x3fa5fed7, 0x3fad583f,
	0x3fb504f3, 0x3fbd08a4, 0x3fc5672a, 0x3fce248c, 0x3fd744fd, 0x3fe0ccdf, 0x3feac0c7, 0x3ff5257d,
}
