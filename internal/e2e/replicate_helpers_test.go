package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// sidecarStatus is the part of /status the tests read.
type sidecarStatus struct {
	Ready       bool   `json:"ready"`
	Reason      string `json:"reason"`
	State       string `json:"state"`
	LocalTXID   string `json:"local_txid"`
	ReplicaTXID string `json:"replica_txid"`
	LeaseHolder string `json:"lease_holder"`
	Started     bool   `json:"started"`
}

// status reads /status; ok is false while the server does not answer.
func (s *sidecar) status(t *testing.T) (sidecarStatus, bool) {
	t.Helper()
	var st sidecarStatus
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.addr + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("/status is not JSON: %v", err)
	}
	return st, true
}

// get returns the status code and body of a path on the sidecar's server.
func (s *sidecar) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds; it fails the test after timeout (a
// hang, never a slow machine: timeouts are generous) or if the sidecar exits.
func (s *sidecar) waitFor(t *testing.T, timeout time.Duration, what string, cond func(sidecarStatus) bool) sidecarStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("replicate exited with %d while waiting for %s: %s", s.code, what, s.stderr.String())
		default:
		}
		if st, ok := s.status(t); ok && cond(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := s.status(t)
	t.Fatalf("not %s within %s (last status %+v)", what, timeout, st)
	return st
}

// exited waits for the process to exit on its own and returns its code.
func (s *sidecar) exited(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(timeout):
		t.Fatalf("replicate still running after %s", timeout)
		return -1
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
