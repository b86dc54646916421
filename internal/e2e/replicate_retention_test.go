package e2e_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestSnapshotIntervalAndRetention: SNAPSHOT_INTERVAL=2s makes a snapshot
// every 2 s, RETENTION=3s deletes the older ones (through the Store, not
// Replica.EnforceRetention, which panics), and the replica still restores
// every row.
func TestSnapshotIntervalAndRetention(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/retention"
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 10)
	s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url,
		"SYNC_INTERVAL=200ms", "SNAPSHOT_INTERVAL=2s", "RETENTION=3s"))
	s.WaitReady(t, 30*time.Second)

	snapshots := func() []string {
		var keys []string
		for o := range m.Client().ListObjects(context.Background(), "backups", minio.ListObjectsOptions{Prefix: "apps/retention/0009/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			keys = append(keys, o.Key)
		}
		return keys
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(90 * time.Second)
	for i := 11; time.Now().Before(deadline); i++ {
		insertRows(t, app, i, i)
		for _, k := range snapshots() {
			seen[k] = true
		}
		deleted := 0
		cur := snapshots()
		for k := range seen {
			if !slices.Contains(cur, k) {
				deleted++
			}
		}
		if len(seen) >= 3 && deleted >= 1 {
			t.Logf("snapshots seen %d, deleted by retention %d, present %d", len(seen), deleted, len(cur))
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	cur := snapshots()
	if len(seen) < 3 {
		t.Fatalf("only %d snapshots in 90 s with SNAPSHOT_INTERVAL=2s: %v", len(seen), cur)
	}
	if len(cur) >= len(seen) {
		t.Fatalf("RETENTION=3s deleted no snapshot: seen %d, present %d", len(seen), len(cur))
	}
	want := rows(t, dbPath)
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, s.Output())
	}
	if strings.Contains(s.Output(), "panic") {
		t.Fatalf("panic in the sidecar: %s", s.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("restore after retention has %d rows, want %d", len(got), len(want))
	}
}
