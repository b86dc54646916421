#include "textflag.h"

// func foldCLMUL(p *byte, n int, crc uint64, k *foldConsts) (lo, hi uint64)
//
// fold_amd64.s with PMULL: n bytes (a multiple of 128, at least 128) are
// folded eight 16-byte lanes at a time into 16 with the same CRC.
TEXT ·foldCLMUL(SB), NOSPLIT, $0-48
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	MOVD crc+16(FP), R2
	MOVD k+24(FP), R3

	VLD1.P 64(R0), [V0.D2, V1.D2, V2.D2, V3.D2]
	VLD1.P 64(R0), [V4.D2, V5.D2, V6.D2, V7.D2]
	VEOR   V8.B16, V8.B16, V8.B16
	VMOV   R2, V8.D[0]
	VEOR   V8.B16, V0.B16, V0.B16
	VLD1.P 16(R3), [V14.D2] // fold by 1024 bits
	VLD1   (R3), [V15.D2]   // fold by 128 bits
	SUB    $128, R1

#define FOLD(X, D) \
	VPMULL  V14.D1, X.D1, V9.Q1; \
	VPMULL2 V14.D2, X.D2, V10.Q1; \
	VEOR    V9.B16, V10.B16, X.B16; \
	VEOR    D.B16, X.B16, X.B16

loop:
	CMP    $128, R1
	BLT    tail
	VLD1.P 64(R0), [V16.D2, V17.D2, V18.D2, V19.D2]
	VLD1.P 64(R0), [V20.D2, V21.D2, V22.D2, V23.D2]
	FOLD(V0, V16)
	FOLD(V1, V17)
	FOLD(V2, V18)
	FOLD(V3, V19)
	FOLD(V4, V20)
	FOLD(V5, V21)
	FOLD(V6, V22)
	FOLD(V7, V23)
	SUB    $128, R1
	B      loop

#define FOLDINTO(X, Y) \
	VPMULL  V15.D1, X.D1, V9.Q1; \
	VPMULL2 V15.D2, X.D2, V10.Q1; \
	VEOR    V9.B16, V10.B16, X.B16; \
	VEOR    X.B16, Y.B16, Y.B16

tail:
	FOLDINTO(V0, V1)
	FOLDINTO(V1, V2)
	FOLDINTO(V2, V3)
	FOLDINTO(V3, V4)
	FOLDINTO(V4, V5)
	FOLDINTO(V5, V6)
	FOLDINTO(V6, V7)

	VMOV V7.D[0], R4
	VMOV V7.D[1], R5
	MOVD R4, lo+32(FP)
	MOVD R5, hi+40(FP)
	RET
