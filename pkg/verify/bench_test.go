package verify_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	_ "modernc.org/sqlite" // Litestream's driver, registered as "sqlite"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// The integrity-check benchmark compares our check (mattn/go-sqlite3, the
// C SQLite) with Litestream's own (modernc.org/sqlite, pure Go), on the
// same file. It runs only with VERIFY_BENCH_SIZE set (bytes, e.g.
// 1073741824): building the file takes a while and `make test` stays fast.
//
//	VERIFY_BENCH_SIZE=1073741824 go test ./pkg/verify -run '^$' -bench IntegrityCheck -benchtime 3x

// benchDB builds, in a temp dir removed afterwards, a database of about VERIFY_BENCH_SIZE
// bytes: a table of 4 KiB random rows with an index, so quick_check and
// integrity_check have b-tree pages of both kinds to walk.
func benchDB(b *testing.B) string {
	b.Helper()
	raw := os.Getenv("VERIFY_BENCH_SIZE")
	if raw == "" {
		b.Skip("set VERIFY_BENCH_SIZE (bytes) to run the integrity-check benchmark")
	}
	size, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || size <= 0 {
		b.Fatalf("VERIFY_BENCH_SIZE=%q is not a positive number of bytes", raw)
	}
	path := filepath.Join(b.TempDir(), "bench.db")
	if err := buildDB(path, size); err != nil {
		b.Fatal(err)
	}
	return path
}

func buildDB(path string, size int64) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=OFF&_synchronous=OFF")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL); CREATE INDEX t_k ON t(k)`); err != nil {
		return err
	}
	const rowBytes = 4096
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	st, err := tx.Prepare(`INSERT INTO t (k, v) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	buf := make([]byte, rowBytes)
	key := make([]byte, 8)
	for n := int64(0); n < size/rowBytes; n++ {
		rand.Read(buf)
		rand.Read(key)
		if _, err := st.Exec(hex.EncodeToString(key), buf); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// BenchmarkIntegrityCheck/mattn is verify.Check (what restore runs).
// BenchmarkIntegrityCheck/modernc is Litestream's checkIntegrity
// (replica.go), reproduced: sql.Open("sqlite", path), PRAGMA, first row.
func BenchmarkIntegrityCheck(b *testing.B) {
	path := benchDB(b)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("database: %d bytes", st.Size())
	ctx := context.Background()
	for _, mode := range []string{verify.Quick, verify.Full} {
		pragma := map[string]string{verify.Quick: "quick_check", verify.Full: "integrity_check"}[mode]
		b.Run(mode+"/mattn", func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				if err := verify.Check(ctx, path, mode); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode+"/modernc", func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				if err := litestreamCheck(ctx, path, pragma); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func litestreamCheck(ctx context.Context, path, pragma string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&result); err != nil {
		return err
	}
	if result != "ok" {
		return verify.ErrCorrupt
	}
	return nil
}
