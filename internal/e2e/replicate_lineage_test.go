package e2e_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestLineageGuard: the backup survives an init step that was skipped.
// DB A is replicated; a sidecar started on a fresh DB B at the same prefix
// exits 65 without writing, and a restore afterwards still returns A's
// rows. The legitimate cases replicate: the same sidecar restarted beside
// A (Litestream's local state), and a database restored from the prefix
// (the restore marker). A restored copy whose marker is below the replica
// (someone wrote since) is held behind it: unready, the app's startup gate
// shut, exit 65 when stopped.
func TestLineageGuard(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/lineage"
	env := append(m.Env(), "REPLICA_URL="+url, "SYNC_INTERVAL=200ms")

	dirA := t.TempDir()
	pathA := filepath.Join(dirA, "app.db")
	appA := openApp(t, pathA)
	defer appA.Close()
	insertRows(t, appA, 1, 40)
	a := startSidecar(t, append(env, "DB_PATH="+pathA))
	a.WaitReady(t, 30*time.Second)
	if code := a.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("sidecar A exit %d: %s", code, a.Output())
	}
	want := rows(t, pathA)

	// B: a fresh, empty database at the same prefix (init skipped).
	pathB := filepath.Join(t.TempDir(), "app.db")
	appB := openApp(t, pathB)
	appB.Close()
	b := startSidecar(t, append(env, "DB_PATH="+pathB))
	if code := b.exited(t, 60*time.Second); code != 65 {
		t.Fatalf("sidecar on a fresh database exit %d, want 65: %s", code, b.Output())
	}
	if !strings.Contains(b.Output(), "lineage conflict") || !strings.Contains(b.Output(), "no restore marker") {
		t.Errorf("refusal does not explain itself: %s", b.Output())
	}
	if strings.Contains(b.Output(), testenv.SecretKey) {
		t.Fatal("replicate printed the secret key")
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("after the refused sidecar, restore returned %d rows, want A's %d", len(got), len(want))
	}

	// A restarted in place (no marker, local Litestream state) replicates.
	insertRows(t, appA, 41, 60)
	a2 := startSidecar(t, append(env, "DB_PATH="+pathA))
	a2.WaitReady(t, 30*time.Second)
	if code := a2.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("restarted sidecar A exit %d: %s", code, a2.Output())
	}
	want = rows(t, pathA)

	// A second restored copy D, then the replica moves on: D is refused.
	pathD := restoreTo(t, m, url)
	if got := rows(t, pathD); !slices.Equal(got, want) {
		t.Fatalf("after A's restart, restore returned %d rows, want %d", len(got), len(want))
	}
	insertRows(t, appA, 61, 70)
	a3 := startSidecar(t, append(env, "DB_PATH="+pathA))
	a3.WaitReady(t, 30*time.Second)
	if code := a3.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("restarted sidecar A exit %d: %s", code, a3.Output())
	}
	want = rows(t, pathA)
	// D is held behind the replica, loudly: up, unready, the app's startup
	// gate shut, the metric set; stopped, it exits 65 having written nothing.
	d := startSidecar(t, append(env, "DB_PATH="+pathD))
	st := d.waitFor(t, 60*time.Second, "held behind the replica", func(s telemetry.Status) bool { return s.State == "behind_replica" })
	if st.Ready || st.Started || !strings.Contains(st.Reason, "delete the pod") {
		t.Errorf("a copy behind the replica must be unready and not started, with a reason saying what to do: %+v", st)
	}
	if code, body := d.Get("/startupz"); code != 503 {
		t.Errorf("/startupz on a copy behind the replica = %d %s, want 503", code, body)
	}
	if _, body := d.Get("/metrics"); !strings.Contains(body, "litestream_sidecar_behind_replica 1") {
		t.Error("a copy behind the replica does not report litestream_sidecar_behind_replica 1")
	}
	if code := d.Stop(t, 40*time.Second); code != 65 || !strings.Contains(d.Output(), "LOCAL DATABASE BEHIND THE REPLICA") {
		t.Fatalf("sidecar on a copy restored before the replica moved on: exit %d, want 65 after an ERROR line: %s", code, d.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("restore returned %d rows, want %d", len(got), len(want))
	}

	// A restored copy C (marker at the replica's position) replicates; from
	// then on C is the lineage, and A would be refused.
	pathC := restoreTo(t, m, url)
	c := startSidecar(t, append(env, "DB_PATH="+pathC))
	c.WaitReady(t, 30*time.Second)
	if code := c.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("sidecar on the restored copy exit %d: %s", code, c.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("after the restored copy replicated, restore returned %d rows, want %d", len(got), len(want))
	}
}
