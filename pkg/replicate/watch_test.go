package replicate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/superfly/ltx"
)

// put creates an (empty) LTX file name in a file:// replica: the watcher
// and baseless read names only.
func put(t *testing.T, c *file.ReplicaClient, level int, lo, hi ltx.TXID) string {
	t.Helper()
	p := c.LTXFilePath(level, lo, hi)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSnapshotWatch(t *testing.T) {
	ctx := context.Background()
	c := file.NewReplicaClient(t.TempDir())
	w := &snapshotWatch{client: c}
	if err := w.check(ctx); err != nil {
		t.Fatalf("empty replica, nothing known: %v", err)
	}
	snap := put(t, c, litestream.SnapshotLevel, 1, 5)
	if err := w.check(ctx); err != nil || w.known.Load() != 5 {
		t.Fatalf("learning the snapshot: %v, known %d", err, w.known.Load())
	}
	// Increments after the snapshot, and a newer snapshot replacing the
	// old one (retention), are normal.
	put(t, c, 0, 6, 9)
	put(t, c, litestream.SnapshotLevel, 1, 9)
	os.Remove(snap)
	if err := w.check(ctx); err != nil || w.known.Load() != 9 {
		t.Fatalf("newer snapshot: %v, known %d", err, w.known.Load())
	}
	// Our own upload raises what is known without a listing.
	w.uploaded(0, 20)
	w.uploaded(litestream.SnapshotLevel, 12)
	if w.known.Load() != 12 {
		t.Fatalf("known %d after uploading snapshot 12", w.known.Load())
	}
	put(t, c, litestream.SnapshotLevel, 1, 12)
	// A wipe: every snapshot gone, increments uploaded on top of nothing.
	if err := os.RemoveAll(filepath.Join(c.Path(), "ltx")); err != nil {
		t.Fatal(err)
	}
	put(t, c, 0, 21, 21)
	if err := w.check(ctx); !errors.Is(err, ErrReplicaLost) {
		t.Fatalf("after a wipe: %v, want ErrReplicaLost", err)
	}
	w.forget()
	if err := w.check(ctx); err != nil {
		t.Fatalf("after forget: %v", err)
	}
}

func TestBaseless(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		files [][3]int // level, min, max
		want  bool
	}{
		{"empty", nil, false},
		{"fresh history, L0 from 1", [][3]int{{0, 1, 1}, {0, 2, 2}}, false},
		{"compacted from 1", [][3]int{{1, 1, 30}, {0, 31, 31}}, false},
		{"snapshot", [][3]int{{litestream.SnapshotLevel, 1, 40}, {1, 41, 50}}, false},
		{"increments only (after a wipe)", [][3]int{{0, 51, 51}, {1, 41, 50}}, true},
	} {
		c := file.NewReplicaClient(t.TempDir())
		for _, f := range tc.files {
			put(t, c, f[0], ltx.TXID(f[1]), ltx.TXID(f[2]))
		}
		if got, err := baseless(ctx, c); err != nil || got != tc.want {
			t.Errorf("%s: baseless = %t, %v; want %t", tc.name, got, err, tc.want)
		}
	}
}
