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
	if _, err := cut.MoveLevels(context.Background(), dest); err == nil {
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
