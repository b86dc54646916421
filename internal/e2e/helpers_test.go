package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// openApp opens a database the way an app does: WAL mode, one writer.
func openApp(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=5000&_synchronous=FULL")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func insertRows(t *testing.T, db *sql.DB, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := db.Exec(`INSERT INTO items (id, body) VALUES (?, ?)`, i, fmt.Sprintf("row %d %s", i, strings.Repeat("x", i%50))); err != nil {
			t.Fatal(err)
		}
	}
}

// rows reads every row of items, in id order.
// rows is testenv.Rows, the name every test here uses.
var rows = testenv.Rows

// sidecar is a running replicate process.
type sidecar struct {
	cmd    *exec.Cmd
	addr   string
	stderr *testenv.LockedBuffer
	done   chan struct{}
	code   int
}

func startSidecar(t *testing.T, env []string) *sidecar {
	t.Helper()
	bin := filepath.Join(testenv.Binaries(t), "replicate")
	s := &sidecar{addr: testenv.FreeAddr(t), stderr: &testenv.LockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "METRICS_ADDR=" + s.addr}, env...)
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		s.code = s.cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

// waitReady polls /readyz until it answers 200.
func (s *sidecar) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("replicate exited early with %d: %s", s.code, s.stderr.String())
		default:
		}
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replicate not ready within %s: %s", timeout, s.stderr.String())
}

// stop sends SIGTERM and waits for the exit code.
func (s *sidecar) stop(t *testing.T, timeout time.Duration) int {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.code
	case <-time.After(timeout):
		t.Fatalf("replicate did not exit within %s of SIGTERM: %s", timeout, s.stderr.String())
		return -1
	}
}

func mustMakeBucket(t *testing.T, m *testenv.MinIO, name string) {
	t.Helper()
	if err := m.MakeBucket(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}
