#include "textflag.h"

// func foldCLMUL(p *byte, n int, crc uint64, k *foldConsts) (lo, hi uint64)
//
// Folds n bytes (a multiple of 128, at least 128) into 16 whose CRC is the
// CRC of the n, eight 16-byte lanes at a time: each lane X becomes
// clmul(X.lo, k.lo) ^ clmul(X.hi, k.hi) ^ the next 16 bytes 128 ahead,
// then the eight are folded into the last, 16 bytes apart. crc (the
// register, already inverted) is XORed into the first 8 bytes. X15 is
// left alone: Go's internal ABI keeps it zero.
TEXT ·foldCLMUL(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ crc+16(FP), AX
	MOVQ k+24(FP), DX

	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVOU 64(SI), X4
	MOVOU 80(SI), X5
	MOVOU 96(SI), X6
	MOVOU 112(SI), X7
	MOVQ  AX, X8
	PXOR  X8, X0
	MOVOU 0(DX), X14 // fold by 1024 bits
	ADDQ  $128, SI
	SUBQ  $128, CX

loop:
	CMPQ CX, $128
	JB   tail

#define FOLD(X, off) \
	MOVO      X, X8; \
	PCLMULQDQ $0x00, X14, X; \
	PCLMULQDQ $0x11, X14, X8; \
	MOVOU     off(SI), X9; \
	PXOR      X8, X; \
	PXOR      X9, X

	FOLD(X0, 0)
	FOLD(X1, 16)
	FOLD(X2, 32)
	FOLD(X3, 48)
	FOLD(X4, 64)
	FOLD(X5, 80)
	FOLD(X6, 96)
	FOLD(X7, 112)
	ADDQ $128, SI
	SUBQ $128, CX
	JMP  loop

tail:
	MOVOU 16(DX), X14 // fold by 128 bits

#define FOLDINTO(X, Y) \
	MOVO      X, X8; \
	PCLMULQDQ $0x00, X14, X; \
	PCLMULQDQ $0x11, X14, X8; \
	PXOR      X8, X; \
	PXOR      X, Y

	FOLDINTO(X0, X1)
	FOLDINTO(X1, X2)
	FOLDINTO(X2, X3)
	FOLDINTO(X3, X4)
	FOLDINTO(X4, X5)
	FOLDINTO(X5, X6)
	FOLDINTO(X6, X7)

	MOVQ   X7, AX
	PEXTRQ $1, X7, BX
	MOVQ   AX, lo+32(FP)
	MOVQ   BX, hi+40(FP)
	RET
