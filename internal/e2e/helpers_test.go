package e2e_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// The test app is testenv's (one row format), under the names every test
// here uses: openApp opens a database the way an app does (WAL, one
// writer), insertRows commits rows with their testenv.Body, rows reads them.
var (
	openApp    = testenv.OpenApp
	insertRows = testenv.InsertRows
	rows       = testenv.Rows
)

// sidecar is a running replicate process; the e2e-only helpers below add to
// testenv's.
type sidecar struct{ *testenv.Sidecar }

// startSidecar starts the built replicate with exactly env (plus PATH, HOME
// and a free METRICS_ADDR).
func startSidecar(t *testing.T, env []string) *sidecar {
	t.Helper()
	bin := filepath.Join(testenv.Binaries(t), "replicate")
	return &sidecar{testenv.StartSidecar(t, bin, append([]string{"METRICS_ADDR=" + testenv.FreeAddr(t)}, env...))}
}

// waitFor polls /status until cond holds; it fails the test after timeout
// (a hang, never a slow machine: timeouts are generous) or if the sidecar exits.
func (s *sidecar) waitFor(t *testing.T, timeout time.Duration, what string, cond func(telemetry.Status) bool) telemetry.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok, code := s.Exited(); ok {
			t.Fatalf("replicate exited with %d while waiting for %s: %s", code, what, s.Output())
		}
		if st, ok := s.Status(t); ok && cond(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := s.Status(t)
	t.Fatalf("not %s within %s (last status %+v)", what, timeout, st)
	return st
}

// exited waits for the process to exit on its own and returns its code.
func (s *sidecar) exited(t *testing.T, timeout time.Duration) int {
	t.Helper()
	code, err := s.Wait(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func mustMakeBucket(t *testing.T, m *testenv.MinIO, name string) {
	t.Helper()
	if err := m.MakeBucket(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

// restoreTo runs restore into a fresh path and returns that path.
func restoreTo(t *testing.T, m *testenv.MinIO, url string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "restored.db")
	r := testenv.Exec(t, 2*time.Minute, filepath.Join(testenv.Binaries(t), "restore"),
		append(m.Env(), "DB_PATH="+out, "REPLICA_URL="+url))
	if r.Code != 0 {
		t.Fatalf("restore exit %d: %s", r.Code, r.Stderr)
	}
	return out
}
