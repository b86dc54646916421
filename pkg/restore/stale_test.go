package restore

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/replica"
)

// TestLocalPosition: the local position is the larger of the marker's TXID
// (only for the same replica URL) and the newest LTX file in any level of
// Litestream's meta directory; with neither it is zero ("no information",
// which keeps the database as it is).
func TestLocalPosition(t *testing.T) {
	const url = "s3://backups/app"
	for _, tc := range []struct {
		name      string
		markerURL string
		markerTX  uint64
		files     map[string][]string // level dir -> file names
		want      ltx.TXID
	}{
		{name: "nothing", want: 0},
		{name: "marker only", markerURL: url, markerTX: 7, want: 7},
		{name: "marker of another replica", markerURL: "s3://backups/other", markerTX: 7, want: 0},
		{name: "meta dir ahead of marker", markerURL: url, markerTX: 7,
			files: map[string][]string{"0": {"0000000000000008-0000000000000008.ltx", "0000000000000009-000000000000000c.ltx"}, "1": {"0000000000000001-0000000000000009.ltx"}},
			want:  12},
		{name: "marker ahead of meta dir", markerURL: url, markerTX: 30,
			files: map[string][]string{"9": {"0000000000000001-0000000000000010.ltx"}}, want: 30},
		{name: "junk ignored", files: map[string][]string{"0": {"not-an-ltx", "0000000000000001-0000000000000003.ltx.tmp"}}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			if tc.markerURL != "" {
				if err := replica.WriteMarker(dbPath, replica.Marker{ReplicaURL: tc.markerURL, TXID: tc.markerTX}); err != nil {
					t.Fatal(err)
				}
			}
			for lvl, names := range tc.files {
				dir := filepath.Join(replica.MetaDir(dbPath), "ltx", lvl)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, n := range names {
					if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := localPosition(dbPath, url); got != tc.want {
				t.Fatalf("localPosition = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestMoveAside: the database, -wal, -shm, meta dir and marker all move to
// <name>.stale-<time>*, nothing is left under the old names, nothing is lost.
func TestMoveAside(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", replica.MarkerPath(dbPath), filepath.Join(replica.MetaDir(dbPath), "ltx", "0", "x")} {
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
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", replica.MarkerPath(dbPath), replica.MetaDir(dbPath)} {
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
