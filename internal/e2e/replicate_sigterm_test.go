package e2e_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestFinalSyncOnSIGTERM, 20 times: write a row, SIGTERM the sidecar at
// once, restore: the row is there. SYNC_INTERVAL is 10 s, so no regular
// sync can have uploaded the row: only the final sync does. Each round
// restarts the sidecar on the same database (the lineage guard accepts it
// by Litestream's local state).
func TestFinalSyncOnSIGTERM(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/sigterm"
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	env := append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=10s", "SHUTDOWN_TIMEOUT=20s")

	for round := 1; round <= 20; round++ {
		s := startSidecar(t, env)
		s.WaitReady(t, 60*time.Second)
		insertRows(t, app, round, round)
		if code := s.Stop(t, 60*time.Second); code != 0 {
			t.Fatalf("round %d: exit %d after SIGTERM, want 0: %s", round, code, s.Output())
		}
		got := rows(t, restoreTo(t, m, url))
		if len(got) != round || !slices.Contains(got, testenv.RowText(round)) {
			t.Fatalf("round %d: restore has %d rows, want %d including the last one", round, len(got), round)
		}
	}
}
