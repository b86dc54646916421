package ltxstate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TestLocalPosition: the local position is the larger of the marker's TXID
// (only for the same replica URL) and Litestream's: the newest level-0 LTX
// file in its meta directory, what its DB.Pos reads. With neither it is
// zero ("no information": restore keeps the database as it is).
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
		{name: "other levels are not Litestream's position", files: map[string][]string{"9": {"0000000000000001-0000000000000010.ltx"}}, want: 0},
		{name: "junk ignored", files: map[string][]string{"0": {"not-an-ltx", "0000000000000001-0000000000000003.ltx.tmp"}}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			if tc.markerURL != "" {
				if err := ltxstate.WriteMarker(dbPath, ltxstate.Marker{ReplicaURL: tc.markerURL, TXID: tc.markerTX}); err != nil {
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
		})
	}
}
