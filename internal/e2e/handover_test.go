package e2e_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestHandover replays what a real kubelet did to a deleted pod
// (docs/handover.md): the ReplicaSet starts the replacement at once, while
// the old app still commits for a few seconds after its SIGTERM and the old
// sidecar's final sync is still to come. The replacement's restore must wait
// for that final sync (the lease's release), start the app on every row of
// it, and its sidecar must become ready without refusing anything.
func TestHandover(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/handover"
	env := append(m.Env(), "REPLICA_URL="+url, "SYNC_INTERVAL=200ms")
	restoreBin := filepath.Join(testenv.Binaries(t), "restore")

	// The predecessor: a first boot, then an app that keeps committing.
	oldPath := filepath.Join(t.TempDir(), "app.db")
	if r := testenv.Exec(t, time.Minute, restoreBin, append(env, "DB_PATH="+oldPath)); r.Code != 0 {
		t.Fatalf("first boot restore exit %d: %s", r.Code, r.Stderr)
	}
	oldSidecar := startSidecar(t, append(env, "DB_PATH="+oldPath))
	oldSidecar.waitFor(t, 30*time.Second, "started for a first boot", func(s telemetry.Status) bool { return s.Started })
	oldApp := openApp(t, oldPath)
	w := startWriter(oldApp)
	oldSidecar.WaitReady(t, 30*time.Second)
	for w.count() < 50 {
		time.Sleep(20 * time.Millisecond)
	}

	// kubectl delete pod: the app gets SIGTERM and takes appStop to stop,
	// committing all along; the replacement starts now.
	const appStop = 3 * time.Second
	t0 := time.Now()
	at := func(what string) { t.Logf("+%5.2fs %s", time.Since(t0).Seconds(), what) }
	at("predecessor deleted: its app keeps committing; the replacement's restore starts")
	newPath := filepath.Join(t.TempDir(), "app.db")
	type outcome struct {
		testenv.Result
		err error
	}
	restored := make(chan outcome, 1)
	go func() {
		r, err := testenv.Run(2*time.Minute, restoreBin, append(env, "DB_PATH="+newPath))
		restored <- outcome{r, err}
	}()
	time.Sleep(appStop)
	final := w.stop(t)
	oldApp.Close()
	at(fmt.Sprintf("predecessor's app exited after its last commit (%d rows)", final))
	want := rows(t, oldPath)
	select {
	case r := <-restored:
		t.Fatalf("the replacement's restore finished (exit %d, %v) before the predecessor's final sync: %s", r.Code, r.err, r.Stderr)
	default:
	}
	if code := oldSidecar.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("predecessor's sidecar exit %d: %s", code, oldSidecar.Output())
	}
	at("predecessor's sidecar exited 0: final sync done, lease released")

	r := <-restored
	if r.err != nil {
		t.Fatalf("replacement's restore: %v", r.err)
	}
	at(fmt.Sprintf("replacement's restore exited %d", r.Code))
	if r.Code != 0 {
		t.Fatalf("replacement's restore exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "waiting for it to stop") || !strings.Contains(r.Stderr, "released the replica's lease") {
		t.Errorf("restore did not say it waited for the writer: %s", r.Stderr)
	}
	got := rows(t, newPath)
	if len(want) != final || !slices.Equal(got, want) {
		t.Fatalf("the replacement starts on %d rows; the predecessor committed %d (local %d)", len(got), final, len(want))
	}

	// The replacement's sidecar proves the lineage and lets the app start.
	newSidecar := startSidecar(t, append(env, "DB_PATH="+newPath))
	st := newSidecar.waitFor(t, 30*time.Second, "started", func(s telemetry.Status) bool { return s.Started })
	if code, body := newSidecar.Get("/startupz"); code != 200 {
		t.Fatalf("/startupz = %d %s once started (%+v)", code, body, st)
	}
	at("replacement's sidecar: lease held, lineage checked, /startupz 200: the app starts")
	newApp := openApp(t, newPath)
	insertRows(t, newApp, final+1, final+30)
	newApp.Close()
	newSidecar.WaitReady(t, 30*time.Second)
	if code := newSidecar.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("replacement's sidecar exit %d: %s", code, newSidecar.Output())
	}
	if got, want := rows(t, restoreTo(t, m, url)), rows(t, newPath); !slices.Equal(got, want) || len(got) != final+30 {
		t.Fatalf("after the handover a restore returns %d rows, want %d", len(got), final+30)
	}
}

// TestRestoreLeaseWait: a writer that does not stop within
// RESTORE_LEASE_WAIT makes restore exit 75 (the orchestrator retries),
// naming the holder, with nothing at DB_PATH; a lease left by this
// volume's own dead sidecar is not waited for.
func TestRestoreLeaseWait(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/leasewait"
	env := append(m.Env(), "REPLICA_URL="+url, "SYNC_INTERVAL=200ms")
	restoreBin := filepath.Join(testenv.Binaries(t), "restore")

	path := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, path)
	insertRows(t, app, 1, 20)
	app.Close()
	s := startSidecar(t, append(env, "DB_PATH="+path))
	s.WaitReady(t, 30*time.Second)
	holder, _ := s.Status(t)

	out := filepath.Join(t.TempDir(), "app.db")
	r := testenv.Exec(t, time.Minute, restoreBin, append(env, "DB_PATH="+out, "RESTORE_LEASE_WAIT=2s"))
	assertFailed(t, r, 75, out)
	if !strings.Contains(r.Stderr, "RESTORE_LEASE_WAIT=2s") || !strings.Contains(r.Stderr, holder.LeaseHolder) {
		t.Errorf("exit 75 does not name the setting and the holder %q: %s", holder.LeaseHolder, r.Stderr)
	}

	// SIGKILL: the lease stays for its TTL, but the pod's own restart
	// (same volume, its sidecar dead) must not wait it out.
	s.Kill()
	r = testenv.Exec(t, time.Minute, restoreBin, append(env, "DB_PATH="+path, "RESTORE_LEASE_WAIT=20m"))
	if r.Code != 0 || !strings.Contains(r.Stderr, "left by this volume's own sidecar") {
		t.Fatalf("restore beside a dead sidecar: exit %d, want 0 without waiting for its lease: %s", r.Code, r.Stderr)
	}
	// Another copy elsewhere still waits: that lease is live for it.
	r = testenv.Exec(t, time.Minute, restoreBin, append(env, "DB_PATH="+filepath.Join(t.TempDir(), "x.db"), "RESTORE_LEASE_WAIT=1s"))
	if r.Code != 75 {
		t.Fatalf("restore elsewhere while a killed sidecar's lease runs: exit %d, want 75: %s", r.Code, r.Stderr)
	}
}

// TestStartupGate: on a first boot the sidecar lets the app start once it
// holds the lease and has proven the replica empty; when the replica holds
// a backup and DB_PATH is missing (restore skipped), it keeps the gate shut
// and says so.
func TestStartupGate(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/gate"
	env := append(m.Env(), "REPLICA_URL="+url, "SYNC_INTERVAL=200ms")

	path := filepath.Join(t.TempDir(), "app.db")
	s := startSidecar(t, append(env, "DB_PATH="+path))
	st := s.waitFor(t, 30*time.Second, "started on an empty replica", func(s telemetry.Status) bool { return s.Started })
	if st.State != "waiting_for_database" || st.Ready || st.LeaseHolder == "" {
		t.Fatalf("first boot: want started, waiting for the database, unready, holding the lease: %+v", st)
	}
	app := openApp(t, path)
	insertRows(t, app, 1, 10)
	app.Close()
	// A scrape alone must see readiness and the lease: nothing else (no
	// /status, no /readyz) is asked meanwhile.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, body := s.Get("/metrics")
		if strings.Contains(body, "litestream_sidecar_ready 1") && strings.Contains(body, "litestream_sidecar_lease_held 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed ready 1 and lease_held 1 on its own:\n%s", body)
		}
	}
	s.WaitReady(t, 30*time.Second)
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("sidecar exit %d: %s", code, s.Output())
	}

	// The replica holds a backup; a pod whose restore did not run.
	missing := filepath.Join(t.TempDir(), "app.db")
	g := startSidecar(t, append(env, "DB_PATH="+missing))
	st = g.waitFor(t, 30*time.Second, "held", func(s telemetry.Status) bool { return s.State == "behind_replica" })
	if st.Started || !strings.Contains(st.Reason, "restore did not run") {
		t.Fatalf("DB_PATH missing on a replica with data: want the gate shut and a reason: %+v", st)
	}
	if code, _ := g.Get("/startupz"); code != 503 {
		t.Fatalf("/startupz = %d, want 503", code)
	}
	if _, body := g.Get("/metrics"); !strings.Contains(body, "litestream_sidecar_behind_replica 1") {
		t.Error("litestream_sidecar_behind_replica is not 1")
	}
	if code := g.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("sidecar stopped while waiting: exit %d: %s", code, g.Output())
	}
}

// writer is an app committing one row every few milliseconds.
type writer struct {
	n    atomic.Int64
	quit chan struct{}
	done chan error
}

func startWriter(db *sql.DB) *writer {
	w := &writer{quit: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		for i := 1; ; i++ {
			select {
			case <-w.quit:
				w.done <- nil
				return
			default:
			}
			if err := testenv.Insert(db, i, testenv.Body(i)); err != nil {
				w.done <- err
				return
			}
			w.n.Store(int64(i))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return w
}

func (w *writer) count() int { return int(w.n.Load()) }

// stop ends the writer between two commits and returns how many it made.
func (w *writer) stop(t *testing.T) int {
	t.Helper()
	close(w.quit)
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	return w.count()
}
