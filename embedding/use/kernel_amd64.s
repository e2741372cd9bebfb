//go:build amd64 && !purego

#include "textflag.h"

// STEP is one step along k: it broadcasts the A tile's column at byte
// offset aoff of each row (rows 0-5 start at SI, SI+R8, R10, R10+R8, R11,
// R11+R8), multiplies it by 16 floats of the B row at byte offset boff of
// the panel and adds the products to the C tile.
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
// C[0:6][0:16] += A[0:6][0:k] x B[0:k][0:16], where B's rows are 32 floats
// (128 bytes) apart: b points at one half of a packed 32-wide panel.
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
	STEP(4, 128)
	STEP(8, 256)
	STEP(12, 384)
	ADDQ $16, SI
	ADDQ $16, R10
	ADDQ $16, R11
	ADDQ $512, DI
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
	ADDQ $128, DI
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

// STEP512 is one step along k of the AVX-512 kernel: it loads the 32
// floats of the B row at byte offset boff into Z24-Z25, broadcasts the A
// tile's column at byte offset aoff of each of the 12 rows (rows 0-4 at
// SI + {0,1,2,3,4} x lda, rows 5-9 the same from R10, rows 10-11 from R11;
// R13 holds 3 x lda) into one of Z26-Z31 in turn, and adds the products
// to the C tile in Z0-Z23 (row r in Z(2r), Z(2r+1)).
#define STEP512(aoff, boff) \
	VMOVUPS boff(DI), Z24; \
	VMOVUPS boff+64(DI), Z25; \
	VBROADCASTSS aoff(SI), Z26; \
	VFMADD231PS Z24, Z26, Z0; \
	VFMADD231PS Z25, Z26, Z1; \
	VBROADCASTSS aoff(SI)(R8*1), Z27; \
	VFMADD231PS Z24, Z27, Z2; \
	VFMADD231PS Z25, Z27, Z3; \
	VBROADCASTSS aoff(SI)(R8*2), Z28; \
	VFMADD231PS Z24, Z28, Z4; \
	VFMADD231PS Z25, Z28, Z5; \
	VBROADCASTSS aoff(SI)(R13*1), Z29; \
	VFMADD231PS Z24, Z29, Z6; \
	VFMADD231PS Z25, Z29, Z7; \
	VBROADCASTSS aoff(SI)(R8*4), Z30; \
	VFMADD231PS Z24, Z30, Z8; \
	VFMADD231PS Z25, Z30, Z9; \
	VBROADCASTSS aoff(R10), Z31; \
	VFMADD231PS Z24, Z31, Z10; \
	VFMADD231PS Z25, Z31, Z11; \
	VBROADCASTSS aoff(R10)(R8*1), Z26; \
	VFMADD231PS Z24, Z26, Z12; \
	VFMADD231PS Z25, Z26, Z13; \
	VBROADCASTSS aoff(R10)(R8*2), Z27; \
	VFMADD231PS Z24, Z27, Z14; \
	VFMADD231PS Z25, Z27, Z15; \
	VBROADCASTSS aoff(R10)(R13*1), Z28; \
	VFMADD231PS Z24, Z28, Z16; \
	VFMADD231PS Z25, Z28, Z17; \
	VBROADCASTSS aoff(R10)(R8*4), Z29; \
	VFMADD231PS Z24, Z29, Z18; \
	VFMADD231PS Z25, Z29, Z19; \
	VBROADCASTSS aoff(R11), Z30; \
	VFMADD231PS Z24, Z30, Z20; \
	VFMADD231PS Z25, Z30, Z21; \
	VBROADCASTSS aoff(R11)(R8*1), Z31; \
	VFMADD231PS Z24, Z31, Z22; \
	VFMADD231PS Z25, Z31, Z23

// func kernel12x32AVX512(k int, a *float32, lda int, b *float32, c *float32, ldc int, bias *float32, relu bool)
//
// C[0:12][0:32] += A[0:12][0:k] x B[0:k][0:32], B packed 32 floats per row.
// When bias is not nil the tile starts from bias[0:32] on every row instead
// of from C, and when relu is set it is stored as max(0, .): the first and
// last steps of a biased, rectified product cost no pass over C of their
// own.
// 24 of the 32 ZMM registers hold the C tile for the whole k loop, so each
// step does 24 fused multiply-adds of 16 lanes for 14 loads: the tile is
// as large as the register file allows, which is what keeps the FMA units
// busy rather than waiting on loads.
TEXT ·kernel12x32AVX512(SB), NOSPLIT, $0-57
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R9
	LEAQ (R8)(R8*2), R13 // 3 x lda
	LEAQ (SI)(R8*4), R10
	ADDQ R8, R10 // row 5
	LEAQ (R10)(R8*4), R11
	ADDQ R8, R11 // row 10
	MOVQ bias+48(FP), AX
	TESTQ AX, AX
	JEQ loadc512
	VMOVUPS (AX), Z0
	VMOVUPS 64(AX), Z1
	VMOVAPS Z0, Z2
	VMOVAPS Z1, Z3
	VMOVAPS Z0, Z4
	VMOVAPS Z1, Z5
	VMOVAPS Z0, Z6
	VMOVAPS Z1, Z7
	VMOVAPS Z0, Z8
	VMOVAPS Z1, Z9
	VMOVAPS Z0, Z10
	VMOVAPS Z1, Z11
	VMOVAPS Z0, Z12
	VMOVAPS Z1, Z13
	VMOVAPS Z0, Z14
	VMOVAPS Z1, Z15
	VMOVAPS Z0, Z16
	VMOVAPS Z1, Z17
	VMOVAPS Z0, Z18
	VMOVAPS Z1, Z19
	VMOVAPS Z0, Z20
	VMOVAPS Z1, Z21
	VMOVAPS Z0, Z22
	VMOVAPS Z1, Z23
	JMP start512
loadc512:
	MOVQ DX, R12
	VMOVUPS (R12), Z0
	VMOVUPS 64(R12), Z1
	ADDQ R9, R12
	VMOVUPS (R12), Z2
	VMOVUPS 64(R12), Z3
	ADDQ R9, R12
	VMOVUPS (R12), Z4
	VMOVUPS 64(R12), Z5
	ADDQ R9, R12
	VMOVUPS (R12), Z6
	VMOVUPS 64(R12), Z7
	ADDQ R9, R12
	VMOVUPS (R12), Z8
	VMOVUPS 64(R12), Z9
	ADDQ R9, R12
	VMOVUPS (R12), Z10
	VMOVUPS 64(R12), Z11
	ADDQ R9, R12
	VMOVUPS (R12), Z12
	VMOVUPS 64(R12), Z13
	ADDQ R9, R12
	VMOVUPS (R12), Z14
	VMOVUPS 64(R12), Z15
	ADDQ R9, R12
	VMOVUPS (R12), Z16
	VMOVUPS 64(R12), Z17
	ADDQ R9, R12
	VMOVUPS (R12), Z18
	VMOVUPS 64(R12), Z19
	ADDQ R9, R12
	VMOVUPS (R12), Z20
	VMOVUPS 64(R12), Z21
	ADDQ R9, R12
	VMOVUPS (R12), Z22
	VMOVUPS 64(R12), Z23
start512:
	CMPQ CX, $4
	JLT tail512
loop512:
	STEP512(0, 0)
	STEP512(4, 128)
	STEP512(8, 256)
	STEP512(12, 384)
	ADDQ $16, SI
	ADDQ $16, R10
	ADDQ $16, R11
	ADDQ $512, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE loop512
tail512:
	TESTQ CX, CX
	JEQ done512
loop512one:
	STEP512(0, 0)
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $128, DI
	DECQ CX
	JNZ loop512one
done512:
	MOVBLZX relu+56(FP), AX
	TESTQ AX, AX
	JEQ store512
	VXORPS Z24, Z24, Z24
	VMAXPS Z0, Z24, Z0
	VMAXPS Z1, Z24, Z1
	VMAXPS Z2, Z24, Z2
	VMAXPS Z3, Z24, Z3
	VMAXPS Z4, Z24, Z4
	VMAXPS Z5, Z24, Z5
	VMAXPS Z6, Z24, Z6
	VMAXPS Z7, Z24, Z7
	VMAXPS Z8, Z24, Z8
	VMAXPS Z9, Z24, Z9
	VMAXPS Z10, Z24, Z10
	VMAXPS Z11, Z24, Z11
	VMAXPS Z12, Z24, Z12
	VMAXPS Z13, Z24, Z13
	VMAXPS Z14, Z24, Z14
	VMAXPS Z15, Z24, Z15
	VMAXPS Z16, Z24, Z16
	VMAXPS Z17, Z24, Z17
	VMAXPS Z18, Z24, Z18
	VMAXPS Z19, Z24, Z19
	VMAXPS Z20, Z24, Z20
	VMAXPS Z21, Z24, Z21
	VMAXPS Z22, Z24, Z22
	VMAXPS Z23, Z24, Z23
store512:
	MOVQ DX, R12
	VMOVUPS Z0, (R12)
	VMOVUPS Z1, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z2, (R12)
	VMOVUPS Z3, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z4, (R12)
	VMOVUPS Z5, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z6, (R12)
	VMOVUPS Z7, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z8, (R12)
	VMOVUPS Z9, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z10, (R12)
	VMOVUPS Z11, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z12, (R12)
	VMOVUPS Z13, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z14, (R12)
	VMOVUPS Z15, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z16, (R12)
	VMOVUPS Z17, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z18, (R12)
	VMOVUPS Z19, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z20, (R12)
	VMOVUPS Z21, 64(R12)
	ADDQ R9, R12
	VMOVUPS Z22, (R12)
	VMOVUPS Z23, 64(R12)
	VZEROUPPER
	RET

// func reluAVX2(v *float32, n int)
//
// v[0:n] = max(0, v[0:n]); n is a multiple of 16. v is MAXPS's second
// source, which it returns for NaN and for either zero, as the Go loop in
// reluGo does (which keeps -0 and NaN).
TEXT ·reluAVX2(SB), NOSPLIT, $0-16
	MOVQ v+0(FP), DI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
reluloop:
	VMAXPS (DI), Y0, Y1
	VMAXPS 32(DI), Y0, Y2
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ reluloop
	VZEROUPPER
	RET
