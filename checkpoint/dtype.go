package checkpoint

import (
	"encoding/binary"
	"math"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The element types of the safetensors specification. All multi-byte types
// are stored little-endian.
const (
	BOOL    DType = "BOOL"    // 1 byte, 0 is false, anything else true
	U8      DType = "U8"      // unsigned 8-bit integer
	I8      DType = "I8"      // signed 8-bit integer
	F8E5M2  DType = "F8_E5M2" // 8-bit float, 5 exponent bits, 2 mantissa bits
	F8E4M3  DType = "F8_E4M3" // 8-bit float, 4 exponent bits, 3 mantissa bits
	I16     DType = "I16"     // signed 16-bit integer
	U16     DType = "U16"     // unsigned 16-bit integer
	F16     DType = "F16"     // IEEE 754 binary16
	BF16    DType = "BF16"    // bfloat16: the top half of a binary32
	I32     DType = "I32"     // signed 32-bit integer
	U32     DType = "U32"     // unsigned 32-bit integer
	F32     DType = "F32"     // IEEE 754 binary32
	F64     DType = "F64"     // IEEE 754 binary64
	I64     DType = "I64"     // signed 64-bit integer
	U64     DType = "U64"     // unsigned 64-bit integer
	invalid DType = ""
)

// Size returns the number of bytes of one element of type d, or 0 if d is not
// a dtype of the safetensors specification.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// convertible reports whether File.Float32 can convert elements of type d.
func (d DType) convertible() bool { return converter(d) != nil }

// converter returns the function that converts one little-endian element of
// type d (the first d.Size() bytes of its argument) to float32, or nil if d is
// not convertible. The 8-bit float formats have several incompatible NaN/Inf
// conventions and are deliberately left out.
//
// Conversions are exact except F64, I32, I64, U32 and U64, which round to the
// nearest float32 (ties to even; F64 beyond the float32 range becomes ±Inf).
// NaN payloads of F32, F16 and BF16 are preserved bit for bit.
func converter(d DType) func([]byte) float32 {
	switch d {
	case F32:
		return func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
	case F64:
		return func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }
	case F16:
		return func(b []byte) float32 { return math.Float32frombits(f16ToF32Bits(binary.LittleEndian.Uint16(b))) }
	case BF16:
		return func(b []byte) float32 { return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }
	case I64:
		return func(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) }
	case U64:
		return func(b []byte) float32 { return float32(binary.LittleEndian.Uint64(b)) }
	case I32:
		return func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }
	case U32:
		return func(b []byte) float32 { return float32(binary.LittleEndian.Uint32(b)) }
	case I16:
		return func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }
	case U16:
		return func(b []byte) float32 { return float32(binary.LittleEndian.Uint16(b)) }
	case I8:
		return func(b []byte) float32 { return float32(int8(b[0])) }
	case U8:
		return func(b []byte) float32 { return float32(b[0]) }
	case BOOL:
		return func(b []byte) float32 {
			if b[0] != 0 {
				return 1
			}
			return 0
		}
	}
	return nil
}

// decode converts the elements of type d in src to float32 in dst:
// len(src) must be len(dst)*d.Size() and d must be convertible. F32, the type
// of every Workbench checkpoint, takes a direct loop.
func decode(dst []float32, src []byte, d DType) {
	if d == F32 {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
		return
	}
	conv, size := converter(d), d.Size()
	for i := range dst {
		dst[i] = conv(src[size*i:])
	}
}

// f16ToF32Bits widens IEEE 754 binary16 bits h to the binary32 bits of the
// same value. Every binary16 value, subnormals included, is exactly
// representable; Inf stays Inf and a NaN keeps its sign and payload (shifted
// into the top of the wider mantissa).
func f16ToF32Bits(h uint16) uint32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return sign | 0xff<<23 | mant<<13
	case exp != 0: // normal: rebias 15 → 127
		return sign | (exp+127-15)<<23 | mant<<13
	case mant == 0: // ±0
		return sign
	}
	// Subnormal: value mant·2⁻²⁴. Shift the leading 1 up to bit 10 and lower
	// the exponent once per shift.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return sign | e<<23 | (mant&0x3ff)<<13
}
