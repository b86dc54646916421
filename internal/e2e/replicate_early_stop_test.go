package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestEarlyStopShipsCommits: a SIGTERM that reaches the sidecar before its
// first sync (just as the app created the database, or right after the
// sidecar started on an existing one) must still ship every committed row.
// Litestream's DB.Close skips the final sync of a DB it never initialised,
// so without the sidecar's own handling these rows were lost.
func TestEarlyStopShipsCommits(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	for _, created := range []string{"during the wait", "before start"} {
		for round := range 5 {
			t.Run(fmt.Sprintf("%s/%d", created, round), func(t *testing.T) {
				dbPath := filepath.Join(t.TempDir(), "app.db")
				url := fmt.Sprintf("s3://backups/early/%d-%d", len(created), round)
				env := append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url)
				if created == "before start" {
					app := openApp(t, dbPath)
					insertRows(t, app, 1, 50)
					app.Close()
				}
				s := startSidecar(t, env)
				s.WaitPath(t, "/healthz", 30*time.Second)
				if created == "during the wait" {
					app := openApp(t, dbPath)
					insertRows(t, app, 1, 50)
					app.Close()
				}
				want := rows(t, dbPath)
				if code := s.Stop(t, time.Minute); code != 0 {
					t.Fatalf("exit %d after SIGTERM: %s", code, s.Output())
				}
				out := filepath.Join(t.TempDir(), "app.db")
				r := testenv.Exec(t, time.Minute, filepath.Join(testenv.Binaries(t), "restore"), append(m.Env(), "DB_PATH="+out, "REPLICA_URL="+url))
				if r.Code != 0 {
					t.Fatalf("restore exit %d: %s", r.Code, r.Stderr)
				}
				if got := rowsIfAny(t, out); !slices.Equal(got, want) {
					t.Fatalf("restored %d rows, want %d; sidecar: %s", len(got), len(want), s.Output())
				}
			})
		}
	}
}

// rowsIfAny is rows, or nil when no database was restored.
func rowsIfAny(t *testing.T, path string) []string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return rows(t, path)
}
