package e2e_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestRestoreRefusesPrefixWithOnlyHistory: a prefix whose live history was
// moved aside by the sidecar (pkg/replicate, keepHistoryAside) before its new
// snapshot landed is not "proven empty": exit 65 naming the history, never
// a new empty database, under either policy.
func TestRestoreRefusesPrefixWithOnlyHistory(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	key := "apps/moved/history/20261122T225705Z/0009/0000000000000001-0000000000000002.ltx"
	if _, err := m.Client().PutObject(context.Background(), "backups", key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, policy := range []string{"new", "fail"} {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		r := testenv.Exec(t, time.Minute, filepath.Join(testenv.Binaries(t), "restore"),
			append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/moved", "RESTORE_IF_REPLICA_MISSING="+policy))
		if r.Code != 65 {
			t.Fatalf("policy %s: exit %d, want 65: %s", policy, r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "s3://backups/apps/moved/history/20261122T225705Z") {
			t.Errorf("policy %s: message does not name the history: %s", policy, r.Stderr)
		}
		if _, err := os.Stat(dbPath); err == nil {
			t.Errorf("policy %s: a database was left at DB_PATH", policy)
		}
		if strings.Contains(r.Output(), testenv.SecretKey) {
			t.Errorf("policy %s: output holds the secret", policy)
		}
	}
}

// TestMoveInterrupted: the sidecar is killed while it moves the replica's
// history aside, between two deletes (S3 has no rename). What is left in
// the levels is a remnant: restore must refuse it (exit 65, naming where
// the history went) instead of returning an older position as the latest,
// and the sidecar restarted on the same volume must finish the move and
// start the new history, with every row in the next restore. The moved
// history stays whole and restorable.
func TestMoveInterrupted(t *testing.T) {
	c := newContinuity(t)
	c.killedAfterSync() // rows 1..30 in the replica
	loc := strings.TrimPrefix(c.url, "s3://backups/")
	dest := loc + "/history/20260101T000000Z"
	cut := &bucket.Store{Client: c.m.ClientCutAfterDeletes(1), Bucket: "backups", Prefix: loc}
	if _, err := cut.MoveLevels(context.Background(), dest, false); err == nil {
		t.Fatal("the move was not cut")
	}

	// --verify reads the prefix through the same code as the init step,
	// without waiting out the killed sidecar's lease.
	out := filepath.Join(t.TempDir(), "new.db")
	r := testenv.Exec(t, time.Minute, filepath.Join(testenv.Binaries(t), "restore"), append(c.m.Env(), "DB_PATH="+c.db, "REPLICA_URL="+c.url), "--verify", "--output", out)
	assertFailed(t, r, 65, out)
	if !strings.Contains(r.Stderr, "part-way through a move") || !strings.Contains(r.Stderr, "s3://backups/"+dest) {
		t.Errorf("the refusal does not say the history is being moved, and where: %s", r.Stderr)
	}

	b := startSidecar(t, c.env)
	b.WaitReady(t, 60*time.Second)
	if !strings.Contains(b.Output(), "finished the move") {
		t.Errorf("the sidecar did not report finishing the move: %s", b.Output())
	}
	whole := &bucket.Store{Client: c.m.Client(), Bucket: "backups", Prefix: loc}
	if to, err := whole.PendingMove(context.Background()); err != nil || to != "" {
		t.Errorf("a move is still pending after the sidecar started: %q, %v", to, err)
	}
	if got := rows(t, restoreTo(t, c.m, "s3://backups/"+dest)); len(got) != 30 {
		t.Errorf("the moved history restores %d rows, want 30", len(got))
	}
	c.stopAndCompare(b)
}

// The sidecar that meets a WAL discontinuity moves aside the history its
// database goes on from, then uploads a new one. Killed in between, it
// leaves that history as the replica's only backup, named by
// <prefix>/history-previous.json. Both ways out are tested below: a new
// copy (the volume went with the pod) restores that history; the copy that
// went on (volume kept) replicates its own database as the new history.

// movedLatest builds that state as the sidecar leaves it: rows 1..30 in
// the replica, the move cut after one delete (or whole), Litestream's
// local state gone, and the killed sidecar's lease run out.
func movedLatest(t *testing.T, c *continuity, whole bool) (dest string, store *bucket.Store) {
	t.Helper()
	ctx := context.Background()
	loc := strings.TrimPrefix(c.url, "s3://backups/")
	dest = loc + "/history/20260101T000000Z"
	store = &bucket.Store{Client: c.m.Client(), Bucket: "backups", Prefix: loc}
	mover := store
	if !whole {
		mover = &bucket.Store{Client: c.m.ClientCutAfterDeletes(1), Bucket: "backups", Prefix: loc}
	}
	if _, err := mover.MoveLevels(ctx, dest, true); (err == nil) != whole {
		t.Fatalf("MoveLevels (whole %t): %v", whole, err)
	}
	if err := ltxstate.RemoveLocal(c.db); err != nil {
		t.Fatal(err)
	}
	dropLease(t, store)
	return dest, store
}

// dropLease removes the lease object, as its TTL would.
func dropLease(t *testing.T, s *bucket.Store) {
	t.Helper()
	if err := s.Client.RemoveObject(context.Background(), s.Bucket, s.Prefix+"/"+lease.Key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestMovedHistoryNewCopy: a new copy's init step restores the moved
// history (mid-move and after it), where it used to exit 65 until an
// operator restored it by hand; a sidecar started without it must not
// let the app create a database; the new copy's sidecar then starts the
// new history and removes the note, and later restores read the levels.
func TestMovedHistoryNewCopy(t *testing.T) {
	c := newContinuity(t)
	c.killedAfterSync()
	dest, store := movedLatest(t, c, false)
	bin := filepath.Join(testenv.Binaries(t), "restore")

	// Mid-move, the levels hold a remnant: --verify reads the moved copy.
	out := filepath.Join(t.TempDir(), "verify.db")
	r := testenv.Exec(t, time.Minute, bin, append(c.m.Env(), "DB_PATH="+c.db, "REPLICA_URL="+c.url), "--verify", "--output", out)
	if r.Code != 0 {
		t.Fatalf("--verify mid-move: exit %d: %s", r.Code, r.Stderr)
	}
	if got := rows(t, out); len(got) != 30 || !strings.Contains(r.Stderr, "s3://backups/"+dest) {
		t.Errorf("--verify mid-move: %d rows, want 30, from the moved history named in: %s", len(got), r.Stderr)
	}

	db := filepath.Join(t.TempDir(), "app.db")
	env := append(c.m.Env(), "DB_PATH="+db, "REPLICA_URL="+c.url, "SYNC_INTERVAL=200ms")
	early := startSidecar(t, env)
	st := early.waitFor(t, 60*time.Second, "held: the database is missing", func(st telemetry.Status) bool { return st.State == "behind_replica" })
	if !strings.Contains(st.Reason, "s3://backups/"+dest) {
		t.Errorf("the sidecar without a database does not name the moved history: %q", st.Reason)
	}
	early.Stop(t, 30*time.Second)
	dropLease(t, store)

	r = testenv.Exec(t, 2*time.Minute, bin, env)
	if r.Code != 0 {
		t.Fatalf("init step on a new volume: exit %d: %s", r.Code, r.Stderr)
	}
	if got := rows(t, db); len(got) != 30 {
		t.Fatalf("init step restored %d rows, want 30", len(got))
	}

	b := startSidecar(t, env)
	b.WaitReady(t, 60*time.Second)
	if prev, err := store.Previous(context.Background()); err != nil || prev != "" {
		t.Errorf("the note still names %q (%v) once the new copy's sidecar is ready", prev, err)
	}
	app := openApp(t, db)
	defer app.Close()
	insertRows(t, app, 31, 40)
	b.waitFor(t, 60*time.Second, "synced", func(st telemetry.Status) bool {
		return st.LocalTXID != "" && st.ReplicaTXID == st.LocalTXID
	})
	if code := b.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, b.Output())
	}
	if got := rows(t, restoreTo(t, c.m, c.url)); len(got) != 40 {
		t.Errorf("the new history restores %d rows, want 40", len(got))
	}
	if got := rows(t, restoreTo(t, c.m, "s3://backups/"+dest)); len(got) != 30 {
		t.Errorf("the moved history restores %d rows, want 30", len(got))
	}
}

// TestMovedHistoryCopyWentOn: the copy whose sidecar made the move keeps
// its volume: restarted, its sidecar uploads the new history from the
// database that went on (every row, also those the moved history lacks)
// and removes the note.
func TestMovedHistoryCopyWentOn(t *testing.T) {
	c := newContinuity(t)
	c.killedAfterSync()
	insertBatch(t, c.app, 31, 230) // unshipped
	c.checkpointAndRestart(231)
	_, store := movedLatest(t, c, true)

	b := startSidecar(t, c.env)
	b.WaitReady(t, 60*time.Second)
	if prev, err := store.Previous(context.Background()); err != nil || prev != "" {
		t.Errorf("the note still names %q (%v) once the sidecar is ready", prev, err)
	}
	c.stopAndCompare(b)
}
