package ltxrestore

import (
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

// TestCRC64Combine: combining the CRCs of two halves equals the CRC of the
// whole, for split points including the empty edges. The restore's file
// checksum check on ranged downloads depends on it.
func TestCRC64Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 100_003)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	want := crc64.Checksum(b, isoTable)
	for _, at := range []int{0, 1, 7, 4096, 50_000, len(b) - 1, len(b)} {
		got := crc64Combine(crc64.Checksum(b[:at], isoTable), crc64.Checksum(b[at:], isoTable), int64(len(b)-at))
		if got != want {
			t.Fatalf("split at %d: combined %x, whole %x", at, got, want)
		}
	}
}
