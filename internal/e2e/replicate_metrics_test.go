package e2e_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestSidecarFirstBootAndEndpoints: the first-boot flow (restore proves the
// prefix empty, the sidecar waits for the app to create the database, then
// replicates) and what operators read: /readyz explains itself in JSON,
// /healthz, /status, and /metrics with the series docs/operations.md
// "Metrics and alerts" lists, passing promlint for every series of ours,
// without secrets.
func TestSidecarFirstBootAndEndpoints(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const url = "s3://backups/apps/firstboot"
	dbPath := filepath.Join(t.TempDir(), "data", "app.db")
	r := testenv.Exec(t, 2*time.Minute, filepath.Join(testenv.Binaries(t), "restore"),
		append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url))
	if r.Code != 0 {
		t.Fatalf("restore on an empty prefix: exit %d: %s", r.Code, r.Stderr)
	}

	s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms", "LOG_FORMAT=json"))
	s.waitFor(t, 30*time.Second, "waiting for the database", func(st telemetry.Status) bool { return st.State == "waiting_for_database" })
	code, body := s.Get("/readyz")
	var rz struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(body), &rz); err != nil || code != 503 || rz.Ready || !strings.Contains(rz.Reason, "waiting for "+dbPath) {
		t.Fatalf("/readyz before the database exists = %d %s, want 503 with a JSON reason naming the path", code, body)
	}
	if code, _ := s.Get("/healthz"); code != 200 {
		t.Fatalf("/healthz = %d while waiting, want 200", code)
	}

	app := openApp(t, dbPath) // the app's first boot creates it
	defer app.Close()
	insertRows(t, app, 1, 30)
	s.WaitReady(t, 30*time.Second)
	st := s.waitFor(t, 30*time.Second, "caught up", func(st telemetry.Status) bool {
		return st.LocalTXID != "" && st.LocalTXID == st.ReplicaTXID
	})
	if st.LeaseHolder == "" {
		t.Errorf("/status has no lease holder: %+v", st)
	}
	_, statusBody := s.Get("/status")
	for _, want := range []string{`"last_sync_success"`, `"lag_seconds": 0`, `"outcome": "new"`, `"replica_url": "` + url} {
		if !strings.Contains(statusBody, want) {
			t.Errorf("/status lacks %s: %s", want, statusBody)
		}
	}

	_, metrics := s.Get("/metrics")
	for _, want := range []string{
		"litestream_sidecar_replica_lag_seconds 0",
		"litestream_sidecar_last_sync_success_timestamp_seconds ",
		"litestream_sidecar_sync_errors_total 0",
		"litestream_sidecar_lease_held 1",
		"litestream_sidecar_ready 1",
		"litestream_sidecar_restore_duration_seconds ",
		`litestream_sidecar_restore_info{outcome="new"} 1`,
		"litestream_sidecar_lineage_refused 0",
		"litestream_sidecar_build_info{",
		"litestream_db_size ", // Litestream's own, from the default registry
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(metrics)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "litestream_sidecar_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		} else {
			t.Logf("promlint (Litestream's own series, not ours to rename): %s: %s", p.Metric, p.Text)
		}
	}
	for _, out := range []string{metrics, statusBody} {
		if strings.Contains(out, testenv.SecretKey) {
			t.Fatal("secret key in /metrics or /status")
		}
	}

	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, s.Output())
	}
	logs := s.Output()
	if strings.Contains(logs, testenv.SecretKey) {
		t.Fatal("secret key in the logs")
	}
	// JSON logs, one line per state change: a few hundred syncs ran, but
	// only a handful of lines from the sidecar itself.
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("LOG_FORMAT=json printed a non-JSON line: %s", line)
		}
		n++
	}
	if n > 40 {
		t.Errorf("%d log lines for one short run: logging per sync, not per state change?\n%s", n, logs)
	}
}
