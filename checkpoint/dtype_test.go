package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// oneTensorFile returns a file holding a single 1-D tensor "t" of type d with
// raw little-endian bytes data.
func oneTensorFile(d DType, data []byte) []byte {
	n := len(data) / d.Size()
	hdr := fmt.Sprintf(`{"t":{"dtype":%q,"shape":[%d],"data_offsets":[0,%d]}}`, d, n, len(data))
	return rawFile(hdr, data)
}

// checkDecode reads a one-tensor file of type d through every reader and
// compares each element with want, bit for bit (any NaN matches any NaN
// unless pinNaN requires the payload too).
func checkDecode(t *testing.T, d DType, data []byte, want []float32, pinNaN bool) {
	t.Helper()
	for how, f := range readers(t, oneTensorFile(d, data)) {
		got, _, err := f.Float32("t")
		if err != nil {
			t.Fatalf("%s: Float32: %v", how, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", how, len(got), len(want))
		}
		bad := 0
		for i := range want {
			g, w := math.Float32bits(got[i]), math.Float32bits(want[i])
			if g == w || (!pinNaN && math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				continue
			}
			sz := d.Size()
			t.Errorf("%s: %s element %d (bytes % x) = %v (%#08x), want %v (%#08x)",
				how, d, i, data[i*sz:(i+1)*sz], got[i], g, want[i], w)
			if bad++; bad > 10 {
				t.FailNow()
			}
		}
	}
}

// ieeeHalf returns the float32 value of the 16-bit IEEE-754-style pattern h
// with expBits exponent bits and 15-expBits mantissa bits, computed from the
// definition with math.Ldexp in float64: subnormals mant·2^(1−bias−m),
// normals (2^m+mant)·2^(exp−bias−m), NaN payloads moved to the top of the
// float32 mantissa.
func ieeeHalf(h uint16, expBits int) float32 {
	m := 15 - expBits
	bias := 1<<(expBits-1) - 1
	sign := 1 - 2*float64(h>>15)
	exp, mant := int(h>>m)&(1<<expBits-1), int(h)&(1<<m-1)
	switch {
	case exp == 1<<expBits-1 && mant == 0:
		return float32(math.Inf(int(sign)))
	case exp == 1<<expBits-1:
		return math.Float32frombits(uint32(h>>15)<<31 | 0x7f800000 | uint32(mant)<<(23-m))
	case exp == 0:
		return float32(sign * math.Ldexp(float64(mant), 1-bias-m))
	}
	return float32(sign * math.Ldexp(float64(1<<m+mant), exp-bias-m))
}

// TestHalfFloats checks all 65536 patterns of F16 (5 exponent bits) and BF16
// (8 exponent bits) against ieeeHalf, NaN payloads included.
func TestHalfFloats(t *testing.T) {
	for _, tt := range []struct {
		d       DType
		expBits int
	}{{F16, 5}, {BF16, 8}} {
		t.Run(string(tt.d), func(t *testing.T) {
			var data []byte
			var want []float32
			for h := range 1 << 16 {
				data = binary.LittleEndian.AppendUint16(data, uint16(h))
				want = append(want, ieeeHalf(uint16(h), tt.expBits))
			}
			checkDecode(t, tt.d, data, want, true)
		})
	}
}

// TestIEEEHalfReference spot-checks the reference itself on well-known values.
func TestIEEEHalfReference(t *testing.T) {
	for _, tt := range []struct {
		h       uint16
		expBits int
		want    float64
	}{
		{0x3c00, 5, 1}, {0xc000, 5, -2}, {0x7bff, 5, 65504}, {0x0001, 5, 0x1p-24}, {0x0400, 5, 0x1p-14},
		{0x3f80, 8, 1}, {0xc000, 8, -2}, {0x0001, 8, 0x1p-133}, {0x7f7f, 8, 0x1.fep127},
	} {
		if got := ieeeHalf(tt.h, tt.expBits); float64(got) != tt.want {
			t.Errorf("ieeeHalf(%#04x, %d) = %v, want %v", tt.h, tt.expBits, got, tt.want)
		}
	}
}

// bigF32 rounds x to the nearest float32 (ties to even) with math/big, an
// implementation independent of the conversion under test.
func bigF32(x *big.Float) float32 {
	f, _ := x.Float32()
	return f
}

func TestF64(t *testing.T) {
	vals := []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 1.0 / 3, math.Pi, 1e-40, -1e-45, 7e-46, 1e-46,
		math.MaxFloat32, -math.MaxFloat32, 3.4028235677973366e38, 3.5e38, 1e300, -1e300,
		math.SmallestNonzeroFloat32, math.SmallestNonzeroFloat64, math.MaxFloat64,
		1 + 0x1p-24, 1 + 0x1p-23 + 0x1p-24, // ties to even, down and up
		math.Inf(1), math.Inf(-1), math.NaN(),
	}
	rng := rand.New(rand.NewPCG(5, 5))
	t.Logf("seed 5")
	for range 5000 {
		vals = append(vals, math.Float64frombits(rng.Uint64()))
	}
	var data []byte
	var want []float32
	for _, v := range vals {
		data = binary.LittleEndian.AppendUint64(data, math.Float64bits(v))
		switch {
		case math.IsNaN(v):
			want = append(want, float32(math.NaN()))
		case math.IsInf(v, 0):
			want = append(want, float32(v))
		default:
			want = append(want, bigF32(new(big.Float).SetFloat64(v)))
		}
	}
	checkDecode(t, F64, data, want, false)
}

// TestIntegers checks every integer dtype on its extremes, values around
// float32's 2²⁴ exact-integer limit and random values, against math/big.
func TestIntegers(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	t.Logf("seed 6")
	type intType struct {
		d      DType
		signed bool
		bits   int
	}
	for _, it := range []intType{{I64, true, 64}, {I32, true, 32}, {I16, true, 16}, {I8, true, 8},
		{U64, false, 64}, {U32, false, 32}, {U16, false, 16}, {U8, false, 8}} {
		t.Run(string(it.d), func(t *testing.T) {
			// Raw patterns: extremes, 2²⁴ ± small, ties, random.
			raw := []uint64{0, 1, math.MaxUint64, 1 << (it.bits - 1), 1<<(it.bits-1) - 1,
				1<<24 + 1, 1<<24 + 3, 1<<25 + 2, 1<<25 + 6, 1<<53 + 1, 1<<63 + 1<<39}
			for range 2000 {
				raw = append(raw, rng.Uint64())
			}
			var data []byte
			var want []float32
			for _, r := range raw {
				r &= math.MaxUint64 >> (64 - it.bits) // keep the type's width
				data = binary.LittleEndian.AppendUint64(data, r)[:len(data)+it.bits/8]
				x := new(big.Float)
				if it.signed {
					x.SetInt64(int64(r<<(64-it.bits)) >> (64 - it.bits)) // sign-extend
				} else {
					x.SetUint64(r)
				}
				want = append(want, bigF32(x))
			}
			checkDecode(t, it.d, data, want, true)
		})
	}
}

func TestBool(t *testing.T) {
	checkDecode(t, BOOL, []byte{0, 1, 2, 255}, []float32{0, 1, 1, 1}, true)
}

func TestDTypeSize(t *testing.T) {
	for d, want := range map[DType]int{BOOL: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
		I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8, "f32": 0, "F4": 0, "": 0} {
		if got := d.Size(); got != want {
			t.Errorf("DType(%q).Size() = %d, want %d", d, got, want)
		}
	}
}

func TestUnconvertibleDTypes(t *testing.T) {
	for _, d := range []DType{F8E4M3, F8E5M2} {
		f := mustParse(t, oneTensorFile(d, []byte{1, 2}))
		if _, _, err := f.Float32("t"); err == nil || !strings.Contains(err.Error(), "cannot convert dtype "+string(d)) {
			t.Errorf("Float32 of %s = %v, want a conversion error", d, err)
		}
	}
}
