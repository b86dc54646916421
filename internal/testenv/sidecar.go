package testenv

import (
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// Sidecar is a running replicate binary and the address of its HTTP
// server (METRICS_ADDR).
type Sidecar struct {
	*Process
	Addr string
}

// StartSidecar starts the replicate binary bin with exactly env (plus PATH
// and HOME) and kills it when tb ends. env must set METRICS_ADDR: that is
// where the tests reach it.
func StartSidecar(tb testing.TB, bin string, env []string, args ...string) *Sidecar {
	tb.Helper()
	s := &Sidecar{}
	for _, kv := range env { // the last one wins, as in the process
		if v, ok := strings.CutPrefix(kv, "METRICS_ADDR="); ok {
			s.Addr = v
		}
	}
	if s.Addr == "" {
		tb.Fatal("testenv: StartSidecar needs METRICS_ADDR in env")
	}
	p, err := StartProcess(bin, env, args...)
	if err != nil {
		tb.Fatal(err)
	}
	s.Process = p
	tb.Cleanup(p.Kill)
	return s
}

// WaitPath polls path until it answers 200. It fails tb, with the
// sidecar's output, after timeout (which only catches hangs) or as soon as
// the sidecar exits.
func (s *Sidecar) WaitPath(tb testing.TB, path string, timeout time.Duration) {
	tb.Helper()
	if err := WaitHTTP("http://"+s.Addr+path, timeout, s.Process); err != nil {
		tb.Fatalf("%v: %s", err, s.Output())
	}
}

// WaitReady is WaitPath on /readyz.
func (s *Sidecar) WaitReady(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	s.WaitPath(tb, "/readyz", timeout)
}

// Stop sends SIGTERM and returns the exit code; it fails tb if the sidecar
// still runs after timeout (an orchestrator's grace: it would SIGKILL it).
func (s *Sidecar) Stop(tb testing.TB, timeout time.Duration) int {
	tb.Helper()
	code, err := s.Signal(syscall.SIGTERM, timeout)
	if err != nil {
		tb.Fatalf("%v: %s", err, s.Output())
	}
	return code
}

// Status reads /status; ok is false while the server does not answer. A
// body that is not the status JSON fails tb.
func (s *Sidecar) Status(tb testing.TB) (st telemetry.Status, ok bool) {
	tb.Helper()
	st, code, err := ReadStatus(s.Addr)
	switch {
	case err != nil && code != 0:
		tb.Fatalf("/status is not JSON: %v", err)
	case err != nil:
		return st, false
	}
	return st, true
}

// Get returns the status code and body of path on the sidecar's server, or
// 0 and the error when it does not answer.
func (s *Sidecar) Get(path string) (int, string) {
	resp, err := client.Get("http://" + s.Addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
