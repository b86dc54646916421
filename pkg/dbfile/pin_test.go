package dbfile_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TestPinWAL: while the pin is held, the app's checkpoint and next commit
// leave the WAL in place (same salts, so its frames stay readable); once
// released, the same steps restart it. Without Litestream state beside the
// database there is nothing to keep continuous and nothing is pinned.
func TestPinWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	// The app goes through the same SQLite library as the pin (see pin.go).
	app, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(wal)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	app.SetMaxOpenConns(1)
	exec := func(q string) {
		t.Helper()
		if _, err := app.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE t (n INTEGER PRIMARY KEY)`)
	exec(`INSERT INTO t (n) VALUES (1)`)

	p, err := dbfile.PinWAL(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Held() {
		t.Fatal("pinned a database without Litestream state")
	}

	l0 := filepath.Join(ltxstate.MetaDir(path), "ltx", "0")
	if err := os.MkdirAll(l0, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l0, "0000000000000001-0000000000000001.ltx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err = dbfile.PinWAL(ctx, path); err != nil {
		t.Fatal(err)
	}
	if !p.Held() {
		t.Fatal("did not pin a WAL database with Litestream state")
	}
	salts := walSalts(t, path)
	exec(`INSERT INTO t (n) VALUES (2)`)
	exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	exec(`INSERT INTO t (n) VALUES (3)`)
	if got := walSalts(t, path); !bytes.Equal(got, salts) {
		t.Fatal("the WAL restarted while pinned")
	}

	p.Release()
	p.Release() // twice is fine
	exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	exec(`INSERT INTO t (n) VALUES (4)`)
	if got := walSalts(t, path); bytes.Equal(got, salts) {
		t.Fatal("the WAL did not restart once released: the test proves nothing")
	}
}

func walSalts(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path + "-wal")
	if err != nil || len(b) < 32 {
		t.Fatalf("read WAL header: %v", err)
	}
	return b[16:24]
}
