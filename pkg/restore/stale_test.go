package restore

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TestMoveAside: the database, -wal, -shm, meta dir and marker all move to
// <name>.stale-<time>*, nothing is left under the old names, nothing is lost.
func TestMoveAside(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", ltxstate.MarkerPath(dbPath), filepath.Join(ltxstate.MetaDir(dbPath), "ltx", "0", "x")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(filepath.Base(p)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aside, err := moveAside(dbPath, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", ltxstate.MarkerPath(dbPath), ltxstate.MetaDir(dbPath)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after moveAside", p)
		}
	}
	for _, p := range []string{aside, aside + "-wal", aside + "-shm", aside + ".restore.json", filepath.Join(aside+".litestream", "ltx", "0", "x")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("moved copy missing: %v", err)
		}
	}
	if b, _ := os.ReadFile(aside); string(b) != "app.db" {
		t.Errorf("moved database holds %q", b)
	}
}

// TestParseTXID: Litestream's 16-hex form and decimal both parse to the
// same TXID; anything else is refused.
func TestParseTXID(t *testing.T) {
	for in, want := range map[string]ltx.TXID{"000000000000000a": 10, "10": 10, "0000000000000001": 1} {
		if got, err := ParseTXID(in); err != nil || got != want {
			t.Errorf("ParseTXID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "0x10", "abc", "zzzzzzzzzzzzzzzz"} {
		if _, err := ParseTXID(in); err == nil {
			t.Errorf("ParseTXID(%q) accepted", in)
		}
	}
}
