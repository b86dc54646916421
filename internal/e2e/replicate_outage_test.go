package e2e_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestMinIOOutage: MinIO stops for 30 s while the app keeps writing, then
// comes back. Readiness goes false during the outage and true again,
// sync_errors_total rose, the replica catches up, and a restore after a
// clean stop has every row. The figures (time to unready, catch-up time)
// are logged, not asserted: timing belongs to `make bench`.
func TestMinIOOutage(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/outage"
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 20)
	s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms"))
	s.WaitReady(t, 30*time.Second)
	errsBefore := metricValue(t, s, "litestream_sidecar_sync_errors_total")

	// The app writes a row every 100 ms throughout.
	var next atomic.Int64
	next.Store(21)
	stopWriter, writerDone := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stopWriter:
				writerDone <- nil
				return
			case <-time.After(100 * time.Millisecond):
			}
			i := next.Load()
			if err := testenv.Insert(app, int(i), testenv.Body(int(i))); err != nil {
				writerDone <- err
				return
			}
			next.Add(1)
		}
	}()

	m.Stop()
	down := time.Now()
	var unreadyAt time.Time
	for time.Since(down) < 30*time.Second {
		if code, _ := s.Get("/readyz"); code == 503 && unreadyAt.IsZero() {
			unreadyAt = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
	if unreadyAt.IsZero() {
		t.Fatal("/readyz stayed 200 through a 30 s outage")
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	s.WaitReady(t, 2*time.Minute)
	readyAgain := time.Now()

	close(stopWriter)
	if err := <-writerDone; err != nil {
		t.Fatalf("app write failed: %v", err)
	}
	st := s.waitFor(t, 2*time.Minute, "caught up", func(st telemetry.Status) bool {
		return st.Ready && st.LocalTXID != "" && st.LocalTXID == st.ReplicaTXID
	})
	caughtUp := time.Now()
	errsAfter := metricValue(t, s, "litestream_sidecar_sync_errors_total")
	if errsAfter <= errsBefore {
		t.Fatalf("sync_errors_total %v -> %v: the outage was not counted", errsBefore, errsAfter)
	}
	t.Logf("outage figures: unready %.1fs after MinIO stopped; ready again %.1fs after it started (unready for %.1fs); "+
		"caught up (txid %s) %.1fs after it started; sync_errors_total %v -> %v",
		unreadyAt.Sub(down).Seconds(), readyAgain.Sub(up).Seconds(), readyAgain.Sub(unreadyAt).Seconds(),
		st.LocalTXID, caughtUp.Sub(up).Seconds(), errsBefore, errsAfter)

	want := rows(t, dbPath)
	if code := s.Stop(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM: %s", code, s.Output())
	}
	if logs := s.Output(); !strings.Contains(logs, `msg="not ready"`) || !strings.Contains(logs, "msg=ready") {
		t.Errorf("the readiness flips were not logged: %s", logs)
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) {
		t.Fatalf("restore after the outage has %d rows, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
	}
	if len(want) < 200 {
		t.Fatalf("the app wrote only %d rows: the outage did not overlap the writes", len(want))
	}
}

// metricValue reads one unlabelled sample from /metrics.
func metricValue(t *testing.T, s *sidecar, name string) float64 {
	t.Helper()
	code, body := s.Get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	mm := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if mm == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(mm[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
