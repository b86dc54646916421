package e2e_test

import (
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestLagGaugeGrowsWithOutage: litestream_sidecar_replica_lag_seconds is the
// age of the oldest commit not in the replica, WAL included, and grows with
// an outage while the app keeps writing:
//
//   - Litestream cannot stage L0 files (its L0 directory replaced by a file,
//     as a full or broken local disk does): every L0 file is in the replica
//     (/status shows local = replica TXID) and the app's commits pile up in
//     the WAL only. A gauge that counts L0 files reads 0 here.
//   - The store is down: commits pile up in L0 files not uploaded.
//
// After each, the gauge falls back once the replica holds everything, and a
// restore has every row. Waits are generous deadlines, never timings: a slow
// machine only makes the gauge larger, and the upper bound checked is the
// outage's own length.
func TestLagGaugeGrowsWithOutage(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/lag"
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 20)
	s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms"))
	s.WaitReady(t, 30*time.Second)

	// The app writes a row every 50 ms throughout.
	var next atomic.Int64
	next.Store(21)
	stopWriter, writerDone := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stopWriter:
				writerDone <- nil
				return
			case <-time.After(50 * time.Millisecond):
			}
			i := next.Load()
			if err := testenv.Insert(app, int(i), testenv.Body(int(i))); err != nil {
				writerDone <- err
				return
			}
			next.Add(1)
		}
	}()
	defer func() {
		select {
		case <-stopWriter:
		default:
			close(stopWriter)
		}
	}()
	lag := func() float64 { return metricValue(t, s, "litestream_sidecar_replica_lag_seconds") }
	const grown = 5.0 // seconds: far above the 200 ms sync interval's own lag

	// 1. Commits only in the WAL.
	l0 := filepath.Join(filepath.Dir(dbPath), ".app.db-litestream", "ltx", "0")
	if _, err := os.Stat(l0); err != nil {
		t.Fatalf("Litestream's L0 directory: %v", err)
	}
	// The gauge may not exceed the outage plus the lag there already was
	// (a loaded machine may run behind before it), with a margin for polls.
	before := lag()
	if err := os.Rename(l0, l0+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l0, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	blocked := time.Now()
	got := waitLag(t, lag, 90*time.Second, "grown with the WAL-only outage", func(v float64) bool { return v >= grown })
	if limit := time.Since(blocked).Seconds() + before + 2; got > limit {
		t.Errorf("lag %.1fs %.1fs into the outage (%.1fs before it): more than the oldest pending commit's age", got, time.Since(blocked).Seconds(), before)
	}
	st, _ := s.Status(t)
	if st.LocalTXID == "" || st.LocalTXID != st.ReplicaTXID {
		t.Fatalf("the case is not WAL-only: /status local %s, replica %s", st.LocalTXID, st.ReplicaTXID)
	}
	t.Logf("WAL-only: gauge %.1fs, %.1fs after Litestream's staging was blocked; /status lag %.1fs", got, time.Since(blocked).Seconds(), st.LagSeconds)
	if err := os.Remove(l0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(l0+".aside", l0); err != nil {
		t.Fatal(err)
	}
	// Litestream retries with a backoff of its own (doubling from 1 s).
	waitLag(t, lag, 2*time.Minute, "back below the outage once staging works", func(v float64) bool { return v < grown })

	// 2. The store is down: commits in L0 files not uploaded.
	before = lag()
	m.Stop()
	down := time.Now()
	got = waitLag(t, lag, 90*time.Second, "grown with the store outage", func(v float64) bool { return v >= grown })
	if limit := time.Since(down).Seconds() + before + 2; got > limit {
		t.Errorf("lag %.1fs %.1fs into the store outage (%.1fs before it): more than the oldest pending commit's age", got, time.Since(down).Seconds(), before)
	}
	t.Logf("store down: gauge %.1fs, %.1fs after MinIO stopped", got, time.Since(down).Seconds())
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}

	close(stopWriter)
	if err := <-writerDone; err != nil {
		t.Fatalf("app write failed: %v", err)
	}
	s.waitFor(t, 2*time.Minute, "caught up", func(st telemetry.Status) bool {
		return st.Ready && st.LocalTXID != "" && st.LocalTXID == st.ReplicaTXID
	})
	waitLag(t, lag, time.Minute, "0 once the replica holds every commit", func(v float64) bool { return v == 0 })

	want := rows(t, dbPath)
	if code := s.Stop(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM: %s", code, s.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("restore after the outages has %d rows, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
	}
}

// waitLag polls the gauge until cond holds and returns its value; it fails
// the test after timeout.
func waitLag(t *testing.T, lag func() float64, timeout time.Duration, what string, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var v float64
	for time.Now().Before(deadline) {
		if v = lag(); cond(v) {
			return v
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("litestream_sidecar_replica_lag_seconds not %s within %s: last %v", what, timeout, v)
	return v
}
