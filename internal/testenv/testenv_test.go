package testenv_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestProcessOutputWhileWriting reads a process's output while it still
// writes (run with -race: the reads must be locked against os/exec's
// copying goroutine), then checks the exit code and the order of streams.
func TestProcessOutputWhileWriting(t *testing.T) {
	p, err := testenv.StartProcess("/bin/sh", []string{"GREETING=hi"}, "-c",
		`echo "$GREETING"; echo err >&2; i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; exit 3`)
	if err != nil {
		t.Fatal(err)
	}
	for ok := false; !ok; ok, _ = p.Exited() {
		_ = p.Output()
	}
	code, err := p.Wait(time.Second)
	if err != nil || code != 3 {
		t.Fatalf("exit %d, %v; want 3", code, err)
	}
	out := p.Output()
	if !strings.HasPrefix(out, "hi\nerr\nline 0\n") || !strings.HasSuffix(out, "line 199\n") {
		t.Fatalf("output %q", out)
	}
}

// TestProcessTerminate: a process that ignores SIGTERM is killed after the
// grace; one that honours it exits with its own code.
func TestProcessTerminate(t *testing.T) {
	p, err := testenv.StartProcess("/bin/sh", nil, "-c", `trap "" TERM; echo ready; while :; do sleep 0.05; done`)
	if err != nil {
		t.Fatal(err)
	}
	waitOutput(t, p, "ready")
	if code, err := p.Signal(syscall.SIGTERM, 200*time.Millisecond); err == nil {
		t.Fatalf("a process ignoring SIGTERM exited %d", code)
	}
	if code := p.Terminate(200 * time.Millisecond); code != -1 {
		t.Fatalf("killed process: exit %d, want -1", code)
	}
	q, err := testenv.StartProcess("/bin/sh", nil, "-c", `trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done`)
	if err != nil {
		t.Fatal(err)
	}
	waitOutput(t, q, "ready")
	if code := q.Terminate(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
}

func waitOutput(t *testing.T, p *testenv.Process, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.Output(), want); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", want, p.Output())
		}
	}
}

// TestWaitHTTP: 200 ends the wait, anything else until the timeout is an
// error naming the last answer, and a dead process ends it at once.
func TestWaitHTTP(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := testenv.WaitHTTP(srv.URL, 100*time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("unready server: %v", err)
	}
	time.AfterFunc(50*time.Millisecond, func() { ready.Store(true) })
	if err := testenv.WaitHTTP(srv.URL, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartProcess("/bin/sh", nil, "-c", "exit 7")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = testenv.WaitHTTP("http://"+testenv.FreeAddr(t)+"/readyz", time.Minute, p)
	if err == nil || !strings.Contains(err.Error(), "exited 7") || time.Since(start) > 30*time.Second {
		t.Fatalf("dead process: %v after %s", err, time.Since(start))
	}
}

// TestAppRows: what the app writes, Rows reads back in the one row format.
func TestAppRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db := testenv.OpenApp(t, path)
	testenv.InsertRows(t, db, 1, 3)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{testenv.RowText(1), testenv.RowText(2), testenv.RowText(3)}
	if got := testenv.Rows(t, path); !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if want[2] != "3:row 3 xxx" {
		t.Fatalf("row format changed: %q", want[2])
	}
}

// TestMinIOLeavesHomeAlone: a test run leaves nothing outside the clone and
// the temp directory. MinIO creates its certs directory (by default
// $HOME/.minio/certs/CAs) at start, so the harness must name one of its own.
func TestMinIOLeavesHomeAlone(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	m := testenv.NewMinIO(t)
	if err := m.MakeBucket(t.Context(), "home-check"); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	entries, err := os.ReadDir(home)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("MinIO wrote %s into HOME", filepath.Join(home, e.Name()))
	}
}
