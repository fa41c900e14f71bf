//go:build amd64 && !purego

#include "textflag.h"

// func gemm8x8AVX512(k int, a *float64, ars, acs int, b *float64, ldb int, c *float64, ldc int)
//
// C[8×8] = A[8×k]·B[k×8]. Z0–Z7 hold the rows of C; each step loads one row
// of B and broadcasts one element of each row of A into the FMA.
TEXT ·gemm8x8AVX512(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ ars+16(FP), R8
	MOVQ acs+24(FP), R12
	MOVQ b+32(FP), DI
	MOVQ ldb+40(FP), R9
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R10
	SHLQ $3, R8
	SHLQ $3, R12
	SHLQ $3, R9
	SHLQ $3, R10
	LEAQ (R8)(R8*2), R11 // 3 rows of A
	LEAQ (SI)(R8*4), BX  // row 4 of A
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3
	VXORPD Z4, Z4, Z4
	VXORPD Z5, Z5, Z5
	VXORPD Z6, Z6, Z6
	VXORPD Z7, Z7, Z7
	TESTQ CX, CX
	JZ    gemmstore

gemmloop:
	VMOVUPD          (DI), Z8
	VFMADD231PD.BCST (SI), Z8, Z0
	VFMADD231PD.BCST (SI)(R8*1), Z8, Z1
	VFMADD231PD.BCST (SI)(R8*2), Z8, Z2
	VFMADD231PD.BCST (SI)(R11*1), Z8, Z3
	VFMADD231PD.BCST (BX), Z8, Z4
	VFMADD231PD.BCST (BX)(R8*1), Z8, Z5
	VFMADD231PD.BCST (BX)(R8*2), Z8, Z6
	VFMADD231PD.BCST (BX)(R11*1), Z8, Z7
	ADDQ             R12, SI
	ADDQ             R12, BX
	ADDQ             R9, DI
	DECQ             CX
	JNZ              gemmloop

gemmstore:
	LEAQ    (R10)(R10*2), R13
	LEAQ    (DX)(R10*4), AX
	VMOVUPD Z0, (DX)
	VMOVUPD Z1, (DX)(R10*1)
	VMOVUPD Z2, (DX)(R10*2)
	VMOVUPD Z3, (DX)(R13*1)
	VMOVUPD Z4, (AX)
	VMOVUPD Z5, (AX)(R10*1)
	VMOVUPD Z6, (AX)(R10*2)
	VMOVUPD Z7, (AX)(R13*1)
	VZEROUPPER
	RET

// REDUCE stores the sum of the eight lanes of acc at off(DX).
#define REDUCE(acc, off) \
	VEXTRACTF64X4 $1, acc, Y0 \
	VADDPD        Z0, acc, Z0 \
	VEXTRACTF128  $1, Y0, X1  \
	VADDPD        X1, X0, X0  \
	VPERMILPD     $1, X0, X1  \
	VADDSD        X1, X0, X0  \
	VMOVSD        X0, off(DX)

// func dot4x4AVX512(k int, a *float64, lda int, b *float64, ldb int, c *[16]float64)
//
// c[i*4+j] = Σ_p A[i][p]·B[j][p] for k a positive multiple of 8. Z16–Z31 hold
// the 16 partial sums lane-wise; Z0–Z3 and Z4–Z7 the rows of A and B.
TEXT ·dot4x4AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	SHLQ $3, R8
	SHLQ $3, R9
	LEAQ (R8)(R8*2), R10
	LEAQ (R9)(R9*2), R11
	VXORPD Z16, Z16, Z16
	VXORPD Z17, Z17, Z17
	VXORPD Z18, Z18, Z18
	VXORPD Z19, Z19, Z19
	VXORPD Z20, Z20, Z20
	VXORPD Z21, Z21, Z21
	VXORPD Z22, Z22, Z22
	VXORPD Z23, Z23, Z23
	VXORPD Z24, Z24, Z24
	VXORPD Z25, Z25, Z25
	VXORPD Z26, Z26, Z26
	VXORPD Z27, Z27, Z27
	VXORPD Z28, Z28, Z28
	VXORPD Z29, Z29, Z29
	VXORPD Z30, Z30, Z30
	VXORPD Z31, Z31, Z31
	SHRQ   $3, CX
	JZ     dotreduce

dotloop:
	VMOVUPD     (SI), Z0
	VMOVUPD     (SI)(R8*1), Z1
	VMOVUPD     (SI)(R8*2), Z2
	VMOVUPD     (SI)(R10*1), Z3
	VMOVUPD     (DI), Z4
	VMOVUPD     (DI)(R9*1), Z5
	VMOVUPD     (DI)(R9*2), Z6
	VMOVUPD     (DI)(R11*1), Z7
	VFMADD231PD Z4, Z0, Z16
	VFMADD231PD Z5, Z0, Z17
	VFMADD231PD Z6, Z0, Z18
	VFMADD231PD Z7, Z0, Z19
	VFMADD231PD Z4, Z1, Z20
	VFMADD231PD Z5, Z1, Z21
	VFMADD231PD Z6, Z1, Z22
	VFMADD231PD Z7, Z1, Z23
	VFMADD231PD Z4, Z2, Z24
	VFMADD231PD Z5, Z2, Z25
	VFMADD231PD Z6, Z2, Z26
	VFMADD231PD Z7, Z2, Z27
	VFMADD231PD Z4, Z3, Z28
	VFMADD231PD Z5, Z3, Z29
	VFMADD231PD Z6, Z3, Z30
	VFMADD231PD Z7, Z3, Z31
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         dotloop

dotreduce:
	REDUCE(Z16, 0)
	REDUCE(Z17, 8)
	REDUCE(Z18, 16)
	REDUCE(Z19, 24)
	REDUCE(Z20, 32)
	REDUCE(Z21, 40)
	REDUCE(Z22, 48)
	REDUCE(Z23, 56)
	REDUCE(Z24, 64)
	REDUCE(Z25, 72)
	REDUCE(Z26, 80)
	REDUCE(Z27, 88)
	REDUCE(Z28, 96)
	REDUCE(Z29, 104)
	REDUCE(Z30, 112)
	REDUCE(Z31, 120)
	VZEROUPPER
	RET
