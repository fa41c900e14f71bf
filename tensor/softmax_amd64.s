//go:build !purego && amd64

#include "textflag.h"

// func maxAVX512(x *float32, n int) float32
//
// Returns the maximum of x[0:n] (n ≥ 1), or NaN if any element is NaN
// (VMAXPS alone would drop some NaNs), 16 lanes at a time with a masked
// tail.
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX // −Inf
	VPBROADCASTD AX, Z0
	KXORW K3, K3, K3 // NaN lanes seen

loop16:
	CMPQ CX, $16
	JLT  tail
	VMOVUPS (SI), Z1
	VMAXPS  Z1, Z0, Z0
	VCMPPS  $3, Z1, Z1, K2 // unordered: NaN
	KORW    K2, K3, K3
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop16

tail:
	TESTQ CX, CX
	JEQ   reduce
	MOVL  $1, AX
	SHLL  CX, AX
	SUBL  $1, AX
	KMOVW AX, K1
	VMAXPS    (SI), Z0, K1, Z0 // lanes outside K1 keep their maximum
	VMOVUPS.Z (SI), K1, Z1
	VCMPPS    $3, Z1, Z1, K2
	KORW      K2, K3, K3

reduce:
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXPS        X1, X0, X0
	KORTESTW      K3, K3
	JZ            done
	MOVL          $0x7fc00000, AX // NaN
	VMOVD         AX, X0

done:
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX512(x *float32, n int, alpha float32)
//
// x[j] *= alpha for j < n, 16 lanes at a time with a masked tail.
TEXT ·scaleAVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS alpha+16(FP), Z0

loop16:
	CMPQ    CX, $16
	JLT     tail
	VMULPS  (SI), Z0, Z1
	VMOVUPS Z1, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop16

tail:
	TESTQ     CX, CX
	JEQ       done
	MOVL      $1, AX
	SHLL      CX, AX
	SUBL      $1, AX
	KMOVW     AX, K1
	VMULPS.Z  (SI), Z0, K1, Z1
	VMOVUPS   Z1, K1, (SI)

done:
	VZEROUPPER
	RET
