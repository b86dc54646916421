package verify_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// makeDB writes a database with n rows in t and n/2 in u (with an index).
func makeDB(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // BEGIN and COMMIT on the same connection
	stmts := []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE "we""ird" (v TEXT)`, `CREATE INDEX t_v ON t(v)`}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`BEGIN`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, strings.Repeat("v", 200)+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := db.Exec(`INSERT INTO "we""ird" VALUES ('x')`); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Exec(`COMMIT`); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheck: a healthy database passes every mode; one with a damaged
// b-tree page and a file that is not a database fail with ErrCorrupt.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	path := makeDB(t, 500)
	for _, mode := range []string{verify.Quick, verify.Full, verify.None} {
		if err := verify.Check(ctx, path, mode); err != nil {
			t.Fatalf("healthy database, %s: %v", mode, err)
		}
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("Check left a -wal beside the database: it must be read-only")
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	// Page 2 is the root of t (the first table created): give its
	// b-tree header an invalid page type and a cell count past the page.
	pageSize := 4096
	b[pageSize], b[pageSize+3], b[pageSize+4] = 0x07, 0xff, 0xff
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{verify.Quick, verify.Full} {
		if err := verify.Check(ctx, damaged, mode); !errors.Is(err, verify.ErrCorrupt) {
			t.Fatalf("damaged database, %s: got %v, want ErrCorrupt", mode, err)
		}
	}

	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not sqlite ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := verify.Check(ctx, junk, verify.Quick); !errors.Is(err, verify.ErrCorrupt) {
		t.Fatalf("not a database: got %v, want ErrCorrupt", err)
	}
}

// TestDescribe: size, page geometry and exact row counts, including a table
// whose name needs quoting.
func TestDescribe(t *testing.T) {
	path := makeDB(t, 301)
	d, err := verify.Describe(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if d.SizeBytes != st.Size() || d.PageSize*d.PageCount != st.Size() {
		t.Fatalf("size %d, pages %d x %d; file is %d bytes", d.SizeBytes, d.PageCount, d.PageSize, st.Size())
	}
	got := map[string]int64{}
	for _, tb := range d.Tables {
		got[tb.Name] = tb.Rows
	}
	if got["t"] != 301 || got[`we"ird`] != 151 || len(got) != 2 {
		t.Fatalf("tables %v, want t=301 and we\"ird=151", got)
	}
}

// TestDescribeInternalApart: Litestream's _litestream_* tables (and
// SQLite's sqlite_*) are reported apart from the app's.
func TestDescribeInternalApart(t *testing.T) {
	path := makeDB(t, 3)
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)`, `CREATE TABLE _litestream_lock (id INTEGER)`,
		`CREATE TABLE x (id INTEGER PRIMARY KEY AUTOINCREMENT)`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	d, err := verify.Describe(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var app, own []string
	for _, tb := range d.Tables {
		app = append(app, tb.Name)
	}
	for _, tb := range d.Internal {
		own = append(own, tb.Name)
	}
	if strings.Join(app, ",") != `t,we"ird,x` || strings.Join(own, ",") != "_litestream_lock,_litestream_seq,sqlite_sequence" {
		t.Fatalf("app tables %v, internal %v; want the app's apart from SQLite's and Litestream's", app, own)
	}
}

// TestMmapCap: builds through the Makefile raise SQLite's cap on how much
// of a database the check maps (CGO_CFLAGS there), so that a database
// beyond 2 GiB is checked through the map and not a pread per page, the
// difference between seconds and minutes in a memory-limited pod. A
// plain `go test` builds SQLite with its default cap and only logs it.
func TestMmapCap(t *testing.T) {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const want = 8 << 30
	var got int64
	if err := db.QueryRow(`PRAGMA mmap_size=8589934592`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	switch {
	case got >= want:
	case strings.Contains(os.Getenv("CGO_CFLAGS"), "SQLITE_MAX_MMAP_SIZE"):
		t.Fatalf("SQLite maps at most %d bytes though CGO_CFLAGS=%q raises the cap: the build did not apply it", got, os.Getenv("CGO_CFLAGS"))
	default:
		t.Logf("SQLite maps at most %d bytes (built without the Makefile's CGO_CFLAGS)", got)
	}
}

// TestCheckCut: a check cut short by its context has proven nothing, so
// it must not say integrity check failed (a restore would call a healthy
// database damaged, exit 65), even for a file that is not a database.
func TestCheckCut(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{makeDB(t, 100), garbage} {
		err := verify.Check(ctx, path, verify.Quick)
		if !errors.Is(err, context.Canceled) || errors.Is(err, verify.ErrCorrupt) {
			t.Errorf("%s, context cancelled: %v; want context.Canceled, not ErrCorrupt", filepath.Base(path), err)
		}
	}
	if err := verify.Check(context.Background(), garbage, verify.Quick); !errors.Is(err, verify.ErrCorrupt) {
		t.Errorf("garbage, not cancelled: %v; want ErrCorrupt", err)
	}
}
