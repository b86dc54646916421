package ltxrestore

import (
	"errors"
	"hash/crc64"
	"math/rand/v2"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// requireCLMUL: the fold needs the processor's carry-less multiply; under
// CI=true its absence fails the test rather than leave the fold untested.
func requireCLMUL(tb testing.TB) {
	tb.Helper()
	if !hasCLMUL {
		testenv.Required(tb, errors.New("no carry-less multiply (PCLMULQDQ on amd64, PMULL on arm64) on this processor"))
	}
}

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

// TestPageCRC: the page hash (folded or in four lanes) and the table form
// of a combine agree with crc64 for every page size SQLite allows.
func TestPageCRC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for size := 512; size <= 65536; size *= 2 {
		h := newPageCRC(size)
		for range 10 {
			prefix, page := make([]byte, r.IntN(64)), make([]byte, size)
			for i := range prefix {
				prefix[i] = byte(r.Uint32())
			}
			for i := range page {
				page[i] = byte(r.Uint32())
			}
			want := crc64.Checksum(page, isoTable)
			if got := h.sum(page); got != want {
				t.Fatalf("page size %d: sum %x, crc64 %x", size, got, want)
			}
			// The fallback where no carry-less multiply is: tested here
			// too, since CI's processors all have one.
			if got := h.lanes(page); got != want {
				t.Fatalf("page size %d: four lanes %x, crc64 %x", size, got, want)
			}
			whole := crc64.Checksum(append(append([]byte{}, prefix...), page...), isoTable)
			if got := h.page.combine(crc64.Checksum(prefix, isoTable), want); got != whole {
				t.Fatalf("page size %d, prefix %d bytes: combined %x, whole %x", size, len(prefix), got, whole)
			}
		}
	}
}

func BenchmarkPageCRC(b *testing.B) {
	page := make([]byte, 4096)
	for i := range page {
		page[i] = byte(i * 7)
	}
	h := newPageCRC(len(page))
	b.Run("crc64", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			crc64.Checksum(page, isoTable)
		}
	})
	b.Run("sum", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			h.sum(page)
		}
	})
	b.Run("lanes", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			h.lanes(page)
		}
	})
	b.Run("clmul", func(b *testing.B) {
		requireCLMUL(b)
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			clmulSum(page)
		}
	})
}

// TestCLMULSum: the carry-less fold agrees with crc64 for every length it
// takes, on random bytes and on runs of zeros and ones.
func TestCLMULSum(t *testing.T) {
	requireCLMUL(t)
	r := rand.New(rand.NewPCG(5, 6))
	for n := 128; n <= 65536; n += 128 * (1 + n/1024) {
		for _, fill := range []string{"random", "zeros", "ones"} {
			p := make([]byte, n)
			for i := range p {
				switch fill {
				case "random":
					p[i] = byte(r.Uint32())
				case "ones":
					p[i] = 0xff
				}
			}
			if got, want := clmulSum(p), crc64.Checksum(p, isoTable); got != want {
				t.Fatalf("%d bytes of %s: fold %x, crc64 %x", n, fill, got, want)
			}
		}
	}
}
