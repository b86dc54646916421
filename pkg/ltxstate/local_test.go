package ltxstate_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TestLocalPosition: the local position is the larger of the marker's TXID
// (only for the same replica URL) and Litestream's: the newest level-0 LTX
// file in its meta directory, what its DB.Pos reads. With neither it is
// zero ("no information": restore keeps the database as it is). TipL0 names
// the level-0 file at that position when the side that sets it knows it.
func TestLocalPosition(t *testing.T) {
	const url = "s3://backups/app"
	for _, tc := range []struct {
		name      string
		markerURL string
		markerTX  uint64
		markerL0  string
		files     map[string][]string // level dir -> file names
		want      ltx.TXID
		tip       string
	}{
		{name: "nothing", want: 0},
		{name: "marker only", markerURL: url, markerTX: 7, want: 7},
		{name: "marker with its file", markerURL: url, markerTX: 7, markerL0: "0000000000000006-0000000000000007.ltx", want: 7, tip: "0000000000000006-0000000000000007.ltx"},
		{name: "marker of another replica", markerURL: "s3://backups/other", markerTX: 7, markerL0: "0000000000000007-0000000000000007.ltx", want: 0},
		{name: "meta dir ahead of marker", markerURL: url, markerTX: 7,
			files: map[string][]string{"0": {"0000000000000008-0000000000000008.ltx", "0000000000000009-000000000000000c.ltx"}, "1": {"0000000000000001-0000000000000009.ltx"}},
			want:  12, tip: "0000000000000009-000000000000000c.ltx"},
		{name: "marker ahead of meta dir", markerURL: url, markerTX: 30, markerL0: "000000000000001e-000000000000001e.ltx",
			files: map[string][]string{"0": {"0000000000000001-0000000000000010.ltx"}}, want: 30, tip: "000000000000001e-000000000000001e.ltx"},
		{name: "other levels are not Litestream's position", files: map[string][]string{"9": {"0000000000000001-0000000000000010.ltx"}}, want: 0},
		{name: "junk ignored", files: map[string][]string{"0": {"not-an-ltx", "0000000000000001-0000000000000003.ltx.tmp"}}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			if tc.markerURL != "" {
				if err := ltxstate.WriteMarker(dbPath, ltxstate.Marker{ReplicaURL: tc.markerURL, TXID: tc.markerTX, L0File: tc.markerL0}); err != nil {
					t.Fatal(err)
				}
			}
			for lvl, names := range tc.files {
				dir := filepath.Join(ltxstate.MetaDir(dbPath), "ltx", lvl)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, n := range names {
					if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			l, err := ltxstate.ReadLocal(dbPath)
			if got := l.Position(url); err != nil || got != tc.want {
				t.Fatalf("ReadLocal(...).Position = %s, %v; want %s", got, err, tc.want)
			}
			if got := l.TipL0(url); got != tc.tip {
				t.Errorf("TipL0 = %q, want %q", got, tc.tip)
			}
		})
	}
}

// TestRemoveLocal: Litestream's local state goes as a whole, with what an
// earlier removal, stopped after its rename, left behind; the database and
// the marker stay.
func TestRemoveLocal(t *testing.T) {
	db := filepath.Join(t.TempDir(), "app.db")
	for _, f := range []string{db, ltxstate.MarkerPath(db)} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{ltxstate.LocalLevelDir(db, 0), ltxstate.MetaDir(db) + ".removing/ltx/0"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001-0000000000000001.ltx"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ltxstate.RemoveLocal(db); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Dir(db))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{".app.db-sidecar-restore.json", "app.db"}; !slices.Equal(names, want) {
		t.Errorf("left %v, want %v", names, want)
	}
	if err := ltxstate.RemoveLocal(db); err != nil {
		t.Errorf("with nothing to remove: %v", err)
	}
}
