//go:build !purego && amd64

#include "textflag.h"

// func expShiftAVX512(dst, x *float32, n int, shift float32, table *uint32) float64
//
// dst[i] = e^(x[i] − shift) for i < n, 16 lanes at a time, with the same
// range reduction as the portable ExpShift: t = a·16/ln2 + 1.5·2²³ (so t's
// low bits hold n = round(16a/ln2)), r = a − n·ln2Hi − n·ln2Lo, e^r by the
// cubic Taylor polynomial, 2^(n/16) = table[n & 15] with (n >> 4) added to
// the exponent field. Lanes with a < −87.3 give 0, a > 88.7 give +Inf, NaN
// gives NaN. Returns Σ dst[i] accumulated in float64.
TEXT ·expShiftAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ table+32(FP), DX
	VBROADCASTSS shift+24(FP), Z0
	MOVL $0x41b8aa3b, AX // 16/ln2
	VPBROADCASTD AX, Z2
	MOVL $0x4b400000, AX // 1.5·2²³
	VPBROADCASTD AX, Z3
	MOVL $0x3d317000, AX // ln2/16, high part
	VPBROADCASTD AX, Z4
	MOVL $0x3605fdf4, AX // ln2/16, low part
	VPBROADCASTD AX, Z5
	MOVL $0x3e2aaaab, AX // 1/6
	VPBROADCASTD AX, Z6
	MOVL $0x3f000000, AX // 1/2
	VPBROADCASTD AX, Z7
	MOVL $0x3f800000, AX // 1
	VPBROADCASTD AX, Z8
	MOVL $0xc2ae999a, AX // −87.3
	VPBROADCASTD AX, Z9
	MOVL $0x42b16666, AX // 88.7
	VPBROADCASTD AX, Z10
	MOVL $0x7f800000, AX // +Inf
	VPBROADCASTD AX, Z11
	VMOVDQU32 (DX), Z12 // 2^(j/16), j = 0..15
	VXORPD Z24, Z24, Z24
	VXORPD Z25, Z25, Z25

loop16:
	CMPQ CX, $16
	JLT  tail
	VMOVUPS (SI), Z14
	CALL expBody<>(SB)
	VMOVUPS Z18, (DI)
	CALL sumBody<>(SB)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop16

tail:
	TESTQ CX, CX
	JEQ   done
	MOVL  $1, AX
	SHLL  CX, AX
	SUBL  $1, AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z14
	CALL expBody<>(SB)
	VMOVAPS.Z Z18, K1, Z18
	VMOVUPS Z18, K1, (DI)
	CALL sumBody<>(SB)

done:
	VADDPD Z25, Z24, Z24
	VEXTRACTF64X4 $1, Z24, Y25
	VADDPD Y25, Y24, Y24
	VEXTRACTF32X4 $1, Y24, X25
	VADDPD X25, X24, X24
	VPERMILPD $1, X24, X25
	VADDSD X25, X24, X24
	VMOVSD X24, ret+40(FP)
	VZEROUPPER
	RET

// expBody computes Z18 = e^(Z14 − Z0) with the constants above; it
// clobbers Z14..Z21 and K2..K4.
TEXT expBody<>(SB), NOSPLIT|NOFRAME, $0-0
	VSUBPS Z0, Z14, Z14        // a = x − shift
	VMOVAPS Z3, Z15
	VFMADD231PS Z2, Z14, Z15   // t = a·16/ln2 + round
	VSUBPS Z3, Z15, Z16        // n = t − round
	VMOVAPS Z14, Z17
	VFNMADD231PS Z4, Z16, Z17  // r = a − n·ln2Hi
	VFNMADD231PS Z5, Z16, Z17  // r −= n·ln2Lo
	VMOVAPS Z7, Z18
	VFMADD231PS Z6, Z17, Z18   // p = 1/2 + r/6
	VFMADD213PS Z8, Z17, Z18   // p = 1 + r·p
	VFMADD213PS Z8, Z17, Z18   // y = 1 + r·p
	VPSUBD Z3, Z15, Z19        // k = bits(t) − bits(round) = n
	VPERMD Z12, Z19, Z20       // table[k & 15]
	VPSRAD $4, Z19, Z21
	VPSLLD $23, Z21, Z21
	VPADDD Z21, Z20, Z20       // 2^(n/16) as float bits
	VMULPS Z20, Z18, Z18
	VCMPPS $0x1d, Z9, Z14, K2  // a ≥ −87.3 (ordered)
	VMOVAPS.Z Z18, K2, Z18
	VCMPPS $0x1e, Z10, Z14, K3 // a > 88.7
	VMOVAPS Z11, K3, Z18
	VCMPPS $3, Z14, Z14, K4    // a is NaN
	VMOVAPS Z14, K4, Z18
	RET

// sumBody adds the 16 floats of Z18 to the float64 accumulators Z24, Z25.
TEXT sumBody<>(SB), NOSPLIT|NOFRAME, $0-0
	VCVTPS2PD Y18, Z22
	VADDPD Z22, Z24, Z24
	VEXTRACTF64X4 $1, Z18, Y23
	VCVTPS2PD Y23, Z23
	VADDPD Z23, Z25, Z25
	RET
