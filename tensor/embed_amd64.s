//go:build !purego && amd64

#include "textflag.h"

// func embedPosAVX512(dst, table, pos *float32, tokens *int32, batch, npos, n int)
//
// dst[b, p, :] = table[tokens[b·npos + p], :] + pos[p, :] for rows of n
// floats (batch, npos, n ≥ 1; tokens checked by the caller), 16 lanes at a
// time with a masked tail.
TEXT ·embedPosAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ table+8(FP), SI
	MOVQ tokens+24(FP), R8
	MOVQ batch+32(FP), R12
	MOVQ n+48(FP), R10
	MOVQ R10, CX
	ANDQ $15, CX // tail lanes
	MOVL $1, AX
	SHLL CX, AX
	SUBL $1, AX
	KMOVW AX, K1
	MOVQ R10, R11
	SHLQ $2, R11 // row bytes

seq:
	MOVQ pos+16(FP), R9 // pos row 0
	MOVQ npos+40(FP), R13

row:
	MOVLQSX (R8), AX
	IMULQ   R11, AX
	LEAQ    (SI)(AX*1), DX // table row
	MOVQ    R10, CX
	XORQ    BX, BX

loop16:
	CMPQ    CX, $16
	JLT     tail
	VMOVUPS (DX)(BX*1), Z0
	VADDPS  (R9)(BX*1), Z0, Z0
	VMOVUPS Z0, (DI)(BX*1)
	ADDQ    $64, BX
	SUBQ    $16, CX
	JMP     loop16

tail:
	TESTQ     CX, CX
	JEQ       next
	VMOVUPS.Z (DX)(BX*1), K1, Z0
	VADDPS.Z  (R9)(BX*1), Z0, K1, Z0
	VMOVUPS   Z0, K1, (DI)(BX*1)

next:
	ADDQ R11, DI
	ADDQ R11, R9
	ADDQ $4, R8
	DECQ R13
	JNZ  row
	DECQ R12
	JNZ  seq
	VZEROUPPER
	RET
