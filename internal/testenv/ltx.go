package testenv

import (
	"bytes"
	"testing"

	"github.com/superfly/ltx"
)

// LTXFile is a valid one-page LTX file for TXIDs min..max, whose page is
// filled with byte(max) and whose checksums chain: a file for min..max
// follows one ending at min-1. For tests that need replica files without
// a database behind them.
func LTXFile(t testing.TB, min, max ltx.TXID) []byte {
	t.Helper()
	sum := func(tx ltx.TXID) ltx.Checksum {
		return ltx.ChecksumFlag | ltx.ChecksumPage(1, bytes.Repeat([]byte{byte(tx)}, 4096))
	}
	var buf bytes.Buffer
	enc, err := ltx.NewEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	hdr := ltx.Header{Version: ltx.Version, PageSize: 4096, Commit: 1, MinTXID: min, MaxTXID: max, Timestamp: 1700000000000}
	if min > 1 {
		hdr.PreApplyChecksum = sum(min - 1)
	}
	if err := enc.EncodeHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if err := enc.EncodePage(ltx.PageHeader{Pgno: 1}, bytes.Repeat([]byte{byte(max)}, 4096)); err != nil {
		t.Fatal(err)
	}
	enc.SetPostApplyChecksum(sum(max))
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
