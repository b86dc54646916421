package dbfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
)

// TestSnapshotSpace: the need is the database and its WAL plus the spare
// (nothing for a database not created yet), against the filesystem's
// real free space.
func TestSnapshotSpace(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "app.db")
	sp, err := dbfile.CheckSpace(db)
	if err != nil || sp.Need != 0 || sp.Short() || sp.Dir != dir {
		t.Fatalf("no database yet: %+v, %v; want nothing needed", sp, err)
	}
	for _, f := range []struct {
		path string
		size int64
	}{{db, 3 << 20}, {db + "-wal", 1 << 20}, {db + "-shm", 32 << 10}} {
		if err := os.WriteFile(f.path, make([]byte, f.size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sp, err = dbfile.CheckSpace(db)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(4<<20) + dbfile.StageSpare; sp.Need != want {
		t.Fatalf("need %d, want %d (database + WAL + spare; the -shm is not staged)", sp.Need, want)
	}
	if sp.Free <= 0 || sp.Short() != (sp.Free < sp.Need) {
		t.Fatalf("free %d: %+v", sp.Free, sp)
	}
	if _, err := dbfile.Free(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("free space of a missing directory: no error")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 851968: "832.0 KiB", 4386816: "4.2 MiB", 3 << 40: "3.0 TiB"} {
		if got := dbfile.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
