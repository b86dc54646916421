package ltxrestore

// foldConsts are the multipliers of foldCLMUL, each the polynomial
// x^k mod P in the reflected order hash/crc64 keeps its register in: a
// 16-byte lane holds two words, the first worth x^64 more than the
// second, and moving it d bits ahead multiplies them by x^(d+64) and x^d.
// A carry-less product of two reflected words comes out one bit short
// (reflected, the product of 1 and 1 reads as x), so each multiplier is
// one power lower: x^(d+63) and x^(d-1).
type foldConsts struct {
	by1024 [2]uint64 // d = 1024: a lane to the same lane 128 bytes on
	by128  [2]uint64 // d = 128: a lane into the next
}

var clmulConsts = foldConsts{
	by1024: [2]uint64{xPow(1024 + 63), xPow(1024 - 1)},
	by128:  [2]uint64{xPow(128 + 63), xPow(128 - 1)},
}

// xPow is x^k mod P, reflected: bit 63 is x^0, and a right shift
// multiplies by x, folding x^64 back as x^4 + x^3 + x + 1.
func xPow(k int) uint64 {
	v := uint64(1) << 63
	for range k {
		if v&1 != 0 {
			v = v>>1 ^ 0xD800000000000000
		} else {
			v >>= 1
		}
	}
	return v
}

// clmulSum is crc64.Checksum(p, isoTable) for len(p) a multiple of 128:
// foldCLMUL leaves 16 bytes with the same CRC, and two register steps
// finish them.
func clmulSum(p []byte) uint64 {
	lo, hi := foldCLMUL(&p[0], len(p), ^uint64(0), &clmulConsts)
	return ^isoStep(isoStep(lo) ^ hi)
}
