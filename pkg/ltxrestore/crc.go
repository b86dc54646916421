package ltxrestore

import (
	"encoding/binary"
	"hash/crc64"
)

// crc64Combine returns the CRC-64/ISO of A||B from crc1 = CRC(A),
// crc2 = CRC(B) and len(B), as zlib's crc32_combine does for CRC-32. It
// lets parts of one file be hashed on different goroutines and still be
// checked against the file checksum, which covers the whole file in order.
func crc64Combine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	even, odd := zeroBitOperators()
	for {
		gf2Square(&even, &odd)
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[64]uint64) {
	for n := range 64 {
		square[n] = gf2Times(mat, mat[n])
	}
}

// pageCRC hashes one page faster than crc64.Update. With a carry-less
// multiply (amd64 PCLMULQDQ, arm64 PMULL) the page is folded (fold.go):
// on amd64 13.9 GB/s against 5.6 GB/s for the lanes below
// (BenchmarkPageCRC, one core of the 2-core VM), and the user CPU of a
// 1 GiB text restore 1.48 -> 1.33 s (medians of 6, shuffled); arm64 is
// tested under qemu only, not timed. Elsewhere the page is cut into four
// lanes whose CRCs are computed in one loop, so the processor works on
// four independent chains at once, then joined (crc64Combine's identity,
// with a table for the lane length). The restore hashes every byte it
// writes, and one chain at a time was its largest single cost.
type pageCRC struct {
	size int
	lane *crcShift // appends size/4 bytes
	page *crcShift // appends size bytes
}

func newPageCRC(size int) *pageCRC {
	return &pageCRC{size: size, lane: newCRCShift(int64(size / 4)), page: newCRCShift(int64(size))}
}

// sum is crc64.Checksum(p, isoTable) for a page of h.size bytes.
func (h *pageCRC) sum(p []byte) uint64 {
	if len(p) != h.size || h.size%32 != 0 {
		return crc64.Checksum(p, isoTable)
	}
	if hasCLMUL && h.size%128 == 0 {
		return clmulSum(p)
	}
	return h.lanes(p)
}

// lanes is sum without a carry-less multiply: four lanes by shifts.
func (h *pageCRC) lanes(p []byte) uint64 {
	n := h.size / 4
	p0, p1, p2, p3 := p[:n], p[n:2*n], p[2*n:3*n], p[3*n:]
	a, b, c, d := ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)
	for i := 0; i+8 <= n; i += 8 {
		a = isoStep(a ^ binary.LittleEndian.Uint64(p0[i:]))
		b = isoStep(b ^ binary.LittleEndian.Uint64(p1[i:]))
		c = isoStep(c ^ binary.LittleEndian.Uint64(p2[i:]))
		d = isoStep(d ^ binary.LittleEndian.Uint64(p3[i:]))
	}
	return h.lane.combine(h.lane.combine(h.lane.combine(^a, ^b), ^c), ^d)
}

// isoStep advances a CRC-64/ISO register (reflected, as hash/crc64 keeps
// it) over the 8 bytes just XORed into it: the register times x^64 modulo
// the polynomial P = x^64 + x^4 + x^3 + x + 1. In the reflected order a
// right shift by j multiplies by x^j, and x^64 = x^4 + x^3 + x + 1 mod P;
// P is so sparse that the product is four shifted copies, and the bits
// they push past x^63 (the left shifts) are folded back the same way
// without overflowing again. Six shifts instead of slicing-by-8's eight
// table lookups: 1.8 times its throughput here (BenchmarkPageCRC, medians
// of 6: 3.7 against 2.05 GB/s).
func isoStep(c uint64) uint64 {
	t := c ^ c<<63 ^ c<<61 ^ c<<60
	return t ^ t>>1 ^ t>>3 ^ t>>4
}

// crcShift is crc64Combine for one fixed len(B), as eight byte tables: a
// few lookups instead of a pass over B.
type crcShift [8][256]uint64

func newCRCShift(n int64) *crcShift {
	op := zerosOperator(n)
	var t crcShift
	for k := range t {
		for b := range t[k] {
			t[k][b] = gf2Times(&op, uint64(b)<<(8*k))
		}
	}
	return &t
}

// combine is crc64Combine(crc1, crc2, n) for the shift's n.
func (t *crcShift) combine(crc1, crc2 uint64) uint64 {
	return t[0][byte(crc1)] ^ t[1][byte(crc1>>8)] ^ t[2][byte(crc1>>16)] ^ t[3][byte(crc1>>24)] ^
		t[4][byte(crc1>>32)] ^ t[5][byte(crc1>>40)] ^ t[6][byte(crc1>>48)] ^ t[7][byte(crc1>>56)] ^ crc2
}

// zerosOperator is the GF(2) matrix that appends n > 0 zero bytes to a CRC
// register.
func zerosOperator(n int64) [64]uint64 {
	even, odd := zeroBitOperators()
	var op [64]uint64 // identity
	for i := range op {
		op[i] = 1 << i
	}
	for {
		gf2Square(&even, &odd) // 1, 4, 16… bytes
		if n&1 != 0 {
			gf2Compose(&op, &even)
		}
		if n >>= 1; n == 0 {
			return op
		}
		gf2Square(&odd, &even) // 2, 8, 32… bytes
		if n&1 != 0 {
			gf2Compose(&op, &odd)
		}
		if n >>= 1; n == 0 {
			return op
		}
	}
}

// zeroBitOperators returns the operators for two and four zero bits.
func zeroBitOperators() (even, odd [64]uint64) {
	odd[0] = crc64.ISO // the operator for one zero bit
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	return even, odd
}

// gf2Compose sets op to mat applied after op.
func gf2Compose(op, mat *[64]uint64) {
	for i := range op {
		op[i] = gf2Times(mat, op[i])
	}
}
