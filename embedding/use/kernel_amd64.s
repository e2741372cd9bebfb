//go:build amd64 && !purego

#include "textflag.h"

// STEP is one step along k: it broadcasts the A tile's column at byte
// offset aoff of each row (rows 0-5 start at SI, SI+R8, R10, R10+R8, R11,
// R11+R8), multiplies it by the B row at byte offset boff of the panel and
// adds the products to the C tile.
#define STEP(aoff, boff) \
	VMOVUPS boff(DI), Y12; \
	VMOVUPS boff+32(DI), Y13; \
	VBROADCASTSS aoff(SI), Y14; \
	VFMADD231PS Y12, Y14, Y0; \
	VFMADD231PS Y13, Y14, Y1; \
	VBROADCASTSS aoff(SI)(R8*1), Y15; \
	VFMADD231PS Y12, Y15, Y2; \
	VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS aoff(R10), Y14; \
	VFMADD231PS Y12, Y14, Y4; \
	VFMADD231PS Y13, Y14, Y5; \
	VBROADCASTSS aoff(R10)(R8*1), Y15; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS aoff(R11), Y14; \
	VFMADD231PS Y12, Y14, Y8; \
	VFMADD231PS Y13, Y14, Y9; \
	VBROADCASTSS aoff(R11)(R8*1), Y15; \
	VFMADD231PS Y12, Y15, Y10; \
	VFMADD231PS Y13, Y15, Y11

// func kernel6x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int)
//
// C[0:6][0:16] += A[0:6][0:k] x B[0:k][0:16], B packed 16 floats per row.
// Y0-Y11 hold the C tile, Y12-Y13 a row of B, Y14-Y15 broadcast A values.
TEXT ·kernel6x16AVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R9
	LEAQ (SI)(R8*2), R10 // row 2
	LEAQ (R10)(R8*2), R11 // row 4
	MOVQ DX, R12
	VMOVUPS (R12), Y0
	VMOVUPS 32(R12), Y1
	ADDQ R9, R12
	VMOVUPS (R12), Y2
	VMOVUPS 32(R12), Y3
	ADDQ R9, R12
	VMOVUPS (R12), Y4
	VMOVUPS 32(R12), Y5
	ADDQ R9, R12
	VMOVUPS (R12), Y6
	VMOVUPS 32(R12), Y7
	ADDQ R9, R12
	VMOVUPS (R12), Y8
	VMOVUPS 32(R12), Y9
	ADDQ R9, R12
	VMOVUPS (R12), Y10
	VMOVUPS 32(R12), Y11
	CMPQ CX, $4
	JLT tail
loop4:
	STEP(0, 0)
	STEP(4, 64)
	STEP(8, 128)
	STEP(12, 192)
	ADDQ $16, SI
	ADDQ $16, R10
	ADDQ $16, R11
	ADDQ $256, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE loop4
tail:
	TESTQ CX, CX
	JEQ done
loop1:
	STEP(0, 0)
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $64, DI
	DECQ CX
	JNZ loop1
done:
	MOVQ DX, R12
	VMOVUPS Y0, (R12)
	VMOVUPS Y1, 32(R12)
	ADDQ R9, R12
	VMOVUPS Y2, (R12)
	VMOVUPS Y3, 32(R12)
	ADDQ R9, R12
	VMOVUPS Y4, (R12)
	VMOVUPS Y5, 32(R12)
	ADDQ R9, R12
	VMOVUPS Y6, (R12)
	VMOVUPS Y7, 32(R12)
	ADDQ R9, R12
	VMOVUPS Y8, (R12)
	VMOVUPS Y9, 32(R12)
	ADDQ R9, R12
	VMOVUPS Y10, (R12)
	VMOVUPS Y11, 32(R12)
	VZEROUPPER
	RET

// func dotAVX2(a *float32, b *float32, n int) float32
//
// Returns the dot product of a[0:n] and b[0:n]; n is a multiple of 16.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
dotloop:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VFMADD231PS (DI), Y2, Y0
	VFMADD231PS 32(DI), Y3, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ dotloop
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX2(dst *float32, src *float32, n int, a float32)
//
// dst[0:n] += a * src[0:n]; n is a multiple of 16.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y0
axpyloop:
	VMOVUPS (DI), Y1
	VMOVUPS 32(DI), Y2
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ axpyloop
	VZEROUPPER
	RET
