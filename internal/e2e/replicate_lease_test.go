package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestLeaseSingleWriter: two replicate processes on one prefix. The second
// waits (unready, naming the holder) and writes nothing while the first
// holds the lease; when the first stops it releases the lease and the
// second takes over; every row reaches the replica.
func TestLeaseSingleWriter(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/lease"
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 50)
	env := append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms")

	a := startSidecar(t, env)
	a.WaitReady(t, 30*time.Second)
	stA, _ := a.Status(t)
	if !strings.Contains(stA.LeaseHolder, fmt.Sprintf(":%d/", a.Pid())) {
		t.Fatalf("first sidecar's lease holder %q does not name its pid %d", stA.LeaseHolder, a.Pid())
	}

	b := startSidecar(t, env)
	stB := b.waitFor(t, 30*time.Second, "waiting for the lease", func(s telemetry.Status) bool {
		return s.State == "waiting_for_lease" && s.LeaseHolder == stA.LeaseHolder
	})
	if stB.Ready || !strings.Contains(stB.Reason, "lease") {
		t.Fatalf("second sidecar should be unready because of the lease: %+v", stB)
	}
	if code, body := b.Get("/readyz"); code != 503 || !strings.Contains(body, "lease") {
		t.Fatalf("second sidecar /readyz = %d %s, want 503 naming the lease", code, body)
	}
	// It keeps waiting across several retries, and never writes.
	insertRows(t, app, 51, 80)
	time.Sleep(5 * time.Second)
	stB = b.waitFor(t, 10*time.Second, "still waiting", func(s telemetry.Status) bool { return s.State == "waiting_for_lease" })
	if stB.LocalTXID != "" {
		t.Fatalf("waiting sidecar opened the database: %+v", stB)
	}
	if _, body := b.Get("/metrics"); !strings.Contains(body, "litestream_sidecar_lease_held 0") {
		t.Fatal("waiting sidecar does not report lease_held 0")
	}
	// A third one, stopped while it waits, exits 75 and does not claim to
	// release a lease it never held.
	c := startSidecar(t, env)
	c.waitFor(t, 30*time.Second, "waiting for the lease", func(s telemetry.Status) bool { return s.State == "waiting_for_lease" })
	if code := c.Stop(t, 20*time.Second); code != 75 || strings.Contains(c.Output(), "lease released") {
		t.Fatalf("a sidecar stopped while waiting for the lease: exit %d (want 75), and it must not log \"lease released\": %s", code, c.Output())
	}

	if code := a.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("first sidecar exit %d: %s", code, a.Output())
	}
	b.WaitReady(t, 60*time.Second)
	if _, body := b.Get("/metrics"); !strings.Contains(body, "litestream_sidecar_lease_held 1") {
		t.Fatal("second sidecar took over but does not report lease_held 1")
	}
	insertRows(t, app, 81, 100)
	want := rows(t, dbPath)
	if code := b.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("second sidecar exit %d: %s", code, b.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("restore returned %d rows, want %d", len(got), len(want))
	}
}

// TestLeaseLost: when another writer takes the lease object, the sidecar
// stops replicating and exits 75 without touching the other writer's lease.
func TestLeaseLost(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 10)
	s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/lost", "SYNC_INTERVAL=200ms"))
	s.WaitReady(t, 30*time.Second)

	// Another writer's lease, written without conditions (as a misbehaving
	// or partitioned writer would).
	doc := fmt.Sprintf(`{"generation":99,"expires_at":%q,"owner":"intruder:1"}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if _, err := m.Client().PutObject(context.Background(), "backups", "apps/lost/lock.json",
		strings.NewReader(doc), int64(len(doc)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// Renewal (every 10 s) finds the object changed: the sidecar stops
	// replicating and exits 75, which also fails its readiness probe.
	if code := s.exited(t, 60*time.Second); code != 75 {
		t.Fatalf("exit %d after losing the lease, want 75: %s", code, s.Output())
	}
	if !strings.Contains(s.Output(), "lease lost") {
		t.Errorf("no clear message about the lost lease: %s", s.Output())
	}
	obj, err := m.Client().GetObject(context.Background(), "backups", "apps/lost/lock.json", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	buf := make([]byte, 512)
	n, _ := obj.Read(buf)
	if !strings.Contains(string(buf[:n]), "intruder:1") {
		t.Fatalf("the sidecar overwrote the other writer's lease: %s", buf[:n])
	}
}

// TestSidecarFailsFastOnConfigFaults: a missing bucket (65) or a wrong key
// (77) does not leave the sidecar waiting for a lease forever.
func TestSidecarFailsFastOnConfigFaults(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	dbPath := filepath.Join(t.TempDir(), "app.db")
	openApp(t, dbPath).Close()

	s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://nosuchbucket/apps/x"))
	if code := s.exited(t, 60*time.Second); code != 65 || !strings.Contains(s.Output(), "nosuchbucket") {
		t.Fatalf("missing bucket: exit %d, want 65 naming the bucket: %s", code, s.Output())
	}
	env := slices.DeleteFunc(m.Env(), func(e string) bool { return strings.HasPrefix(e, "AWS_SECRET_ACCESS_KEY=") })
	s = startSidecar(t, append(env, "AWS_SECRET_ACCESS_KEY=wrong-secret-value", "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/x"))
	if code := s.exited(t, 60*time.Second); code != 77 {
		t.Fatalf("wrong secret: exit %d, want 77: %s", code, s.Output())
	}
	if strings.Contains(s.Output(), "wrong-secret-value") {
		t.Fatal("the secret appeared in the output")
	}
}

// TestLeaseReclaimAfterCrash: a sidecar killed without releasing its lease
// is restarted beside the same database (same volume): the new process
// takes the lease back at once (volume lease id, flock) instead of waiting
// out the 30 s TTL, and no committed row is lost.
func TestLeaseReclaimAfterCrash(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/reclaim"
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 30)
	env := append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms")
	a := startSidecar(t, env)
	a.WaitReady(t, 30*time.Second)
	a.Kill()
	insertRows(t, app, 31, 60)

	b := startSidecar(t, env)
	b.WaitReady(t, 60*time.Second)
	insertRows(t, app, 61, 70)
	want := rows(t, dbPath)
	if code := b.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, b.Output())
	}
	if !strings.Contains(b.Output(), "took over the lease of a previous sidecar") {
		t.Fatalf("the restarted sidecar did not take the dead one's lease back: %s", b.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("restore after crash and restart has %d rows, want %d", len(got), len(want))
	}
}
