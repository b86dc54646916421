package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// The tests here stop the sidecar with SIGKILL while the app writes on, then
// let the app checkpoint and restart its WAL: frames nobody shipped are then
// only in the database file. What differs is when the checkpoint runs.

// TestContinuityWALRestartedWhileDown: the checkpoint runs while the
// sidecar is down. The next start must see the WAL no longer continues
// from its last LTX file, keep the old history aside and start a new one
// with a full snapshot, so the restore holds every row.
func TestContinuityWALRestartedWhileDown(t *testing.T) {
	c := newContinuity(t)
	c.killedAfterSync()
	insertBatch(t, c.app, 31, 230) // unshipped
	c.checkpointAndRestart(231)

	b := startSidecar(t, c.env)
	b.WaitReady(t, 60*time.Second)
	if !strings.Contains(b.Output(), "WAL discontinuity") {
		t.Errorf("the restart did not report the WAL discontinuity: %s", b.Output())
	}
	// The database goes on from the moved history: it was the latest
	// backup until the first sync (TestMovedHistoryNewCopy), not after.
	if !strings.Contains(b.Output(), "latest_backup=true") {
		t.Errorf("the move did not name the moved history the latest backup: %s", b.Output())
	}
	loc := strings.TrimPrefix(c.url, "s3://backups/")
	if prev, err := bucket.NewStore(c.m.Client(), "backups", loc).Previous(context.Background()); err != nil || prev != "" {
		t.Errorf("the note still names %q (%v) once the sidecar is ready", prev, err)
	}
	c.stopAndCompare(b)
}

// TestContinuityWALRestartedWhileStarting: the checkpoint runs after the
// sidecar's start-up check found the WAL continuous, and before Litestream
// would have taken its own read lock (its first sync comes one monitor
// interval after it opens). Litestream v0.5.18 reads a single WAL restart
// as harmless and resumes from the new WAL: the rows of the checkpointed
// frames were missing from every restore. The sidecar holds a read
// transaction from before the check until Litestream holds its own, so the
// app's checkpoint cannot restart the WAL in between.
func TestContinuityWALRestartedWhileStarting(t *testing.T) {
	c := newContinuity(t)
	c.killedAfterSync()
	insertBatch(t, c.app, 31, 230) // unshipped

	b := startSidecar(t, c.env)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, ok := b.Status(t); ok && st.State == "replicating" {
			break
		}
		if ok, code := b.Exited(); ok {
			t.Fatalf("replicate exited %d before replicating: %s", code, b.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("not replicating within 60 s: %s", b.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.checkpointAndRestart(231)
	b.WaitReady(t, 60*time.Second)
	c.stopAndCompare(b)
}

type continuity struct {
	t   *testing.T
	m   *testenv.MinIO
	db  string
	url string
	env []string
	app *sql.DB
}

func newContinuity(t *testing.T) *continuity {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	c := &continuity{t: t, m: m, db: filepath.Join(t.TempDir(), "app.db"), url: "s3://backups/apps/" + strings.ToLower(t.Name())}
	c.app = openApp(t, c.db)
	t.Cleanup(func() { c.app.Close() })
	c.env = append(m.Env(), "DB_PATH="+c.db, "REPLICA_URL="+c.url, "SYNC_INTERVAL=200ms")
	return c
}

// killedAfterSync: rows 1..30 replicated, then the sidecar is SIGKILLed,
// leaving Litestream's local state beside the database.
func (c *continuity) killedAfterSync() {
	t := c.t
	insertRows(t, c.app, 1, 30)
	a := startSidecar(t, c.env)
	a.WaitReady(t, 60*time.Second)
	a.waitFor(t, 60*time.Second, "synced", func(st telemetry.Status) bool {
		return st.LocalTXID != "" && st.ReplicaTXID == st.LocalTXID
	})
	a.Kill()
}

// checkpointAndRestart is the app's auto-checkpoint with no reader in the
// way: every frame goes into the database file, and the next commit
// (row id) restarts the WAL with new salts.
func (c *continuity) checkpointAndRestart(id int) {
	t := c.t
	var busy, logN, done int
	if err := c.app.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logN, &done); err != nil {
		t.Fatal(err)
	}
	insertRows(t, c.app, id, id)
	t.Logf("app checkpoint: busy %d, %d frames in the WAL, %d moved into the database", busy, logN, done)
}

// stopAndCompare stops the sidecar cleanly and checks that a restore holds
// exactly the app's rows.
func (c *continuity) stopAndCompare(s *sidecar) {
	t := c.t
	insertRows(t, c.app, 232, 240)
	s.waitFor(t, 60*time.Second, "synced", func(st telemetry.Status) bool {
		return st.LocalTXID != "" && st.ReplicaTXID == st.LocalTXID
	})
	want := rows(t, c.db)
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, s.Output())
	}
	got := rows(t, restoreTo(t, c.m, c.url))
	if !slices.Equal(got, want) {
		t.Fatalf("restore has %d rows, the app %d: %s", len(got), len(want), missing(want, got))
	}
}

// insertBatch commits rows from..to in one transaction, with bodies large
// enough (1 KiB) to fill leaf pages that later commits never touch again.
func insertBatch(t *testing.T, db *sql.DB, from, to int) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i <= to; i++ {
		if err := testenv.Insert(tx, i, fmt.Sprintf("row %d %s", i, strings.Repeat("y", 1024))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// missing names the first rows of want that got lacks.
func missing(want, got []string) string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, strings.SplitN(w, ":", 2)[0])
			if len(out) == 5 {
				out = append(out, "…")
				break
			}
		}
	}
	return "missing rows " + strings.Join(out, ", ")
}
