//go:build !purego && amd64

#include "textflag.h"

// func addRowsAtAVX512(dst, src *float32, idx *int32, n, d int)
//
// For i < n: dst[idx[i]·d + j] += src[i·d + j], j < d (n, d ≥ 1, indices
// checked by the caller), 16 lanes at a time with a masked tail; rows in
// order, so repeated indices accumulate as the portable loop does.
TEXT ·addRowsAtAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ d+32(FP), R10
	MOVQ R10, CX
	ANDQ $15, CX // tail lanes
	MOVL $1, AX
	SHLL CX, AX
	SUBL $1, AX
	KMOVW AX, K1
	MOVQ R10, R11
	SHLQ $2, R11 // row bytes

row:
	MOVLQSX (R8), AX
	IMULQ   R11, AX
	LEAQ    (DI)(AX*1), DX // dst row
	MOVQ    R10, CX
	XORQ    BX, BX

loop16:
	CMPQ    CX, $16
	JLT     tail
	VMOVUPS (SI)(BX*1), Z0
	VADDPS  (DX)(BX*1), Z0, Z0
	VMOVUPS Z0, (DX)(BX*1)
	ADDQ    $64, BX
	SUBQ    $16, CX
	JMP     loop16

tail:
	TESTQ     CX, CX
	JEQ       next
	VMOVUPS.Z (SI)(BX*1), K1, Z0
	VADDPS.Z  (DX)(BX*1), Z0, K1, Z0
	VMOVUPS   Z0, K1, (DX)(BX*1)

next:
	ADDQ R11, SI
	ADDQ $4, R8
	DECQ R9
	JNZ  row
	VZEROUPPER
	RET
