package ltxrestore_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benbjohnson/litestream/file"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
)

// Litestream v0.5.18 writes its files without post-apply checksums, so the
// database-checksum check is exercised here with files encoded directly by
// superfly/ltx: a snapshot, then an incremental that rewrites some pages
// and shrinks the database.

const ckPageSize = 4096

func page(r *rand.Rand) []byte {
	b := make([]byte, ckPageSize)
	for i := range b {
		b[i] = byte(r.IntN(16)) // compressible, not constant
	}
	return b
}

func dbChecksum(db [][]byte) ltx.Checksum {
	sum := ltx.ChecksumFlag
	for i, p := range db {
		sum = ltx.ChecksumFlag | (sum ^ ltx.ChecksumPage(uint32(i+1), p))
	}
	return sum
}

// encode writes an LTX file with pages (pgno -> data) and the post-apply
// checksum post to the replica.
func encode(t *testing.T, client *file.ReplicaClient, level int, minTX, maxTX ltx.TXID, commit uint32, pre, post ltx.Checksum, pages map[uint32][]byte) {
	t.Helper()
	var buf bytes.Buffer
	enc, err := ltx.NewEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.EncodeHeader(ltx.Header{Version: ltx.Version, PageSize: ckPageSize, Commit: commit, MinTXID: minTX, MaxTXID: maxTX,
		Timestamp: 1700000000000, PreApplyChecksum: pre}); err != nil {
		t.Fatal(err)
	}
	for pgno := uint32(1); pgno <= commit+10; pgno++ {
		if data, ok := pages[pgno]; ok {
			if err := enc.EncodePage(ltx.PageHeader{Pgno: pgno}, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	enc.SetPostApplyChecksum(post)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.WriteLTXFile(context.Background(), level, minTX, maxTX, &buf); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreVerifiesDatabaseChecksum: with checksummed files the output
// matches the expected database and upstream's restore, and a wrong
// post-apply checksum (in a file whose own checksum is valid) is ErrCorrupt.
func TestRestoreVerifiesDatabaseChecksum(t *testing.T) {
	for name, opt := range optionSets {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			db := make([][]byte, 40)
			snap := map[uint32][]byte{}
			for i := range db {
				db[i] = page(r)
				snap[uint32(i+1)] = db[i]
			}
			client := file.NewReplicaClient(t.TempDir())
			sum1 := dbChecksum(db)
			encode(t, client, 9, 1, 1, 40, 0, sum1, snap)

			// TXID 2: rewrite pages 3 and 17, shrink to 30 pages.
			db[2], db[16] = page(r), page(r)
			db = db[:30]
			encode(t, client, 0, 2, 2, 30, sum1, dbChecksum(db), map[uint32][]byte{3: db[2], 17: db[16]})

			p := plan(t, client)
			out := filepath.Join(t.TempDir(), "out.db")
			st, err := ltxrestore.Restore(context.Background(), client, p, out, opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "expected database", got, bytes.Join(db, nil), ckPageSize)
			sameBytes(t, "upstream", got, upstream(t, client, 2), ckPageSize)
			if st.Checksum != dbChecksum(db) {
				t.Fatalf("stats checksum %s, want %s", st.Checksum, dbChecksum(db))
			}

			// TXID 3 claims a checksum the pages do not produce.
			db[5] = page(r)
			encode(t, client, 0, 3, 3, 30, st.Checksum, ltx.ChecksumFlag|12345, map[uint32][]byte{6: db[5]})
			_, err = ltxrestore.Restore(context.Background(), client, plan(t, client), filepath.Join(t.TempDir(), "bad.db"), opt)
			if !errors.Is(err, ltxrestore.ErrCorrupt) || !strings.Contains(err.Error(), "restored database checksum") {
				t.Fatalf("wrong post-apply checksum: got %v, want ErrCorrupt from the database checksum", err)
			}
		})
	}
}
