package e2e_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	cut := bucket.NewStore(c.m.ClientCutAfterDeletes(1), "backups", loc)
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
	whole := bucket.NewStore(c.m.Client(), "backups", loc)
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
	store = bucket.NewStore(c.m.Client(), "backups", loc)
	mover := store
	if !whole {
		mover = bucket.NewStore(c.m.ClientCutAfterDeletes(1), "backups", loc)
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
	if err := s.Remove(context.Background(), s.Key(lease.Key)); err != nil {
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

// TestMovedHistoryCopyWentOn: the real sidecar meets a WAL discontinuity,
// moves the history aside and cannot upload the new one (a proxy fails
// its LTX uploads), and is killed. The copy keeps its volume: its init
// step, run again, keeps the database (the sidecar recorded the position
// it proved before the move), where it used to exit 65 for good; a new
// copy's restore reads the moved history; and the restarted sidecar
// uploads the new history from the database that went on (every row,
// also those the moved history lacks) and removes the note.
func TestMovedHistoryCopyWentOn(t *testing.T) {
	c := newContinuity(t)
	c.killedAfterSync()
	// This copy was restored once, at a position below the replica's:
	// the marker alone proves nothing about where it is now.
	if err := ltxstate.WriteMarker(c.db, ltxstate.Marker{ReplicaURL: c.url, TXID: 5, Outcome: ltxstate.OutcomeRestored}); err != nil {
		t.Fatal(err)
	}
	insertBatch(t, c.app, 31, 230) // unshipped
	c.checkpointAndRestart(231)
	want := len(rows(t, c.db))

	loc := strings.TrimPrefix(c.url, "s3://backups/")
	levels := regexp.MustCompile(`^/backups/` + regexp.QuoteMeta(loc) + `/[0-9a-f]{4}/`)
	px := storeProxy(t, c.m, func(w http.ResponseWriter, r *http.Request, pass http.Handler) {
		if r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" && levels.MatchString(r.URL.Path) {
			http.Error(w, "the uploads of the new history are cut here", http.StatusServiceUnavailable)
			return
		}
		pass.ServeHTTP(w, r)
	})
	a := startSidecar(t, append(c.env, "S3_ENDPOINT="+px.URL))
	store := bucket.NewStore(c.m.Client(), "backups", loc)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ct, err := store.Preflight(context.Background(), slog.New(slog.DiscardHandler))
		if err == nil && ct.Handover() != "" && ct.Moving == "" {
			break
		}
		if ok, code := a.Exited(); ok || time.Now().After(deadline) {
			t.Fatalf("the history was not moved aside with the note within 60 s (exited %t %d; contents %+v, %v): %s", ok, code, ct, err, a.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Kill()
	dest, _ := store.Previous(context.Background())

	bin := filepath.Join(testenv.Binaries(t), "restore")
	dropLease(t, store)
	r := testenv.Exec(t, 2*time.Minute, bin, c.env)
	if r.Code != 0 || !strings.Contains(r.Stderr, "leaving it untouched") {
		t.Fatalf("init step on the copy that went on: exit %d, want 0 keeping it: %s", r.Code, r.Stderr)
	}
	if got := len(rows(t, c.db)); got != want {
		t.Fatalf("the init step changed the database: %d rows, had %d", got, want)
	}
	out := filepath.Join(t.TempDir(), "new.db")
	r = testenv.Exec(t, time.Minute, bin, append(c.m.Env(), "DB_PATH="+out, "REPLICA_URL="+c.url), "--verify", "--output", out)
	if r.Code != 0 || len(rows(t, out)) != 30 || !strings.Contains(r.Stderr, dest) {
		t.Fatalf("a new copy's restore: exit %d, want 30 rows from %s: %s", r.Code, dest, r.Stderr)
	}

	b := startSidecar(t, c.env)
	b.WaitReady(t, 60*time.Second)
	if prev, err := store.Previous(context.Background()); err != nil || prev != "" {
		t.Errorf("the note still names %q (%v) once the sidecar is ready", prev, err)
	}
	c.stopAndCompare(b)
}

// TestMovedHistoryPresentUnproven: a database present whose position in
// the moved history nothing proves (a copy restored below it, without its
// sidecar's record) is neither used nor replaced: exit 65 naming the
// history, the file as it was.
func TestMovedHistoryPresentUnproven(t *testing.T) {
	c := newContinuity(t)
	c.killedAfterSync()
	if err := ltxstate.WriteMarker(c.db, ltxstate.Marker{ReplicaURL: c.url, TXID: 5, Outcome: ltxstate.OutcomeRestored}); err != nil {
		t.Fatal(err)
	}
	dest, _ := movedLatest(t, c, true)
	want := rows(t, c.db)
	r := testenv.Exec(t, 2*time.Minute, filepath.Join(testenv.Binaries(t), "restore"), c.env)
	if r.Code != 65 || !strings.Contains(r.Stderr, "s3://backups/"+dest) || !strings.Contains(r.Stderr, "neither used nor replaced") {
		t.Fatalf("exit %d, want 65 naming %s: %s", r.Code, dest, r.Stderr)
	}
	if got := rows(t, c.db); !slices.Equal(got, want) {
		t.Errorf("the database changed: %d rows, had %d", len(got), len(want))
	}
}
