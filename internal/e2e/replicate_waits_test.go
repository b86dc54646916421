package e2e_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// Every state the sidecar waits in before it replicates must say why it
// waits, and a SIGTERM must end the wait at once with the exit code of
// what it waited for (docs/design.md "Stopped while waiting"). The bounds
// are far above what the sidecar needs (a line within 2 s, an exit within
// a second) so that a slow machine never fails them; a sidecar that says
// nothing until a request's retries run out, or sees the signal only
// between requests, does.
const (
	sayWithin  = 8 * time.Second
	stopWithin = 5 * time.Second
)

// secretKey is the secret the tests below give the sidecar: it must never
// be printed.
const secretKey = "waits-secret-never-printed"

// TestStopWhileStoreUnreachable: a store that refuses connections, or
// accepts them and never answers, in each wait that asks it: the lease
// (the first request), the database's wait on a first boot and the lineage
// check (LEASE=false). The sidecar names the endpoint within a few
// seconds and a SIGTERM ends it at once with 69: no final sync ran.
func TestStopWhileStoreUnreachable(t *testing.T) {
	refused := "http://" + testenv.FreeAddr(t) // nothing listens there
	silent := "http://" + silentStore(t)
	for _, tc := range []struct {
		name, endpoint string
		lease, db      bool
		says           string
	}{
		{"lease/refused", refused, true, false, "waiting for the single-writer lease"},
		{"lease/silent", silent, true, false, "waiting for the single-writer lease"},
		{"database/refused", refused, false, false, "waiting for the database to appear"},
		{"lineage/refused", refused, false, true, "checking lineage"},
		{"lineage/silent", silent, false, true, "checking lineage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			if tc.db {
				app := openApp(t, dbPath)
				insertRows(t, app, 1, 5)
				app.Close()
			}
			env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/apps/waits", "S3_ENDPOINT=" + tc.endpoint,
				"AWS_ACCESS_KEY_ID=waits", "AWS_SECRET_ACCESS_KEY=" + secretKey, fmt.Sprintf("LEASE=%t", tc.lease)}
			s := startSidecar(t, env)
			s.says(t, tc.says, "endpoint="+tc.endpoint)
			line := s.stopsWith(t, 69)
			for _, want := range []string{"while " + tc.says, tc.endpoint, "does not answer", "nothing was replicated"} {
				if !strings.Contains(line, want) {
					t.Errorf("the error line lacks %q: %s", want, line)
				}
			}
			if strings.Contains(s.Output(), secretKey) {
				t.Errorf("the secret was printed: %s", s.Output())
			}
		})
	}
}

// TestStopWhileWaitingOnMinIO: the waits on a store that answers. Another
// writer's lease: the holder is named, and a stop exits 75. The database a
// first boot waits for: a stop exits 0, nothing being lost. A first sync
// whose uploads hang: the signal is taken at once, and the final sync,
// which cannot land either, ends in 69 within SHUTDOWN_TIMEOUT.
func TestStopWhileWaitingOnMinIO(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")

	t.Run("lease held", func(t *testing.T) {
		const url = "s3://backups/apps/waits-held"
		dbPath := filepath.Join(t.TempDir(), "app.db")
		app := openApp(t, dbPath)
		defer app.Close()
		insertRows(t, app, 1, 5)
		a := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url))
		a.WaitReady(t, 60*time.Second)
		b := startSidecar(t, append(m.Env(), "DB_PATH="+filepath.Join(t.TempDir(), "app.db"), "REPLICA_URL="+url))
		b.says(t, "another writer holds it", fmt.Sprintf(":%d/", a.Pid()))
		if line := b.stopsWith(t, 75); !strings.Contains(line, "nothing was replicated") {
			t.Errorf("the error line does not say that nothing was replicated: %s", line)
		}
		if code := a.Stop(t, 40*time.Second); code != 0 {
			t.Fatalf("holder exit %d: %s", code, a.Output())
		}
	})

	t.Run("database", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/waits-db"))
		s.says(t, "replica proven empty")
		s.stopsWith(t, 0)
	})

	t.Run("first sync", func(t *testing.T) {
		gone := make(chan struct{})
		px := storeProxy(t, m, func(w http.ResponseWriter, r *http.Request, pass http.Handler) {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, ".ltx") {
				// An upload the store takes and never answers. Read whole,
				// the server notices the client's going.
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-gone:
				}
				return
			}
			pass.ServeHTTP(w, r)
		})
		t.Cleanup(func() { close(gone) }) // before the proxy's Close, which waits for its handlers
		dbPath := filepath.Join(t.TempDir(), "app.db")
		app := openApp(t, dbPath)
		defer app.Close()
		insertRows(t, app, 1, 5)
		// A first sync is given max(SYNC_INTERVAL, 5 s) before it is tried
		// again: 30 s here, far more than the bound on the stop.
		s := startSidecar(t, []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/apps/waits-sync", "S3_ENDPOINT=" + px.URL,
			"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey,
			"SYNC_INTERVAL=30s", "SHUTDOWN_TIMEOUT=2s"})
		s.says(t, "first sync: no answer from the object store yet", "endpoint="+px.URL)
		if line := s.stopsWith(t, 69, 2*time.Second); !strings.Contains(line, "final sync within SHUTDOWN_TIMEOUT=2s") {
			t.Errorf("the error line does not name the final sync: %s", line)
		}
	})
}

// silentStore is an address that accepts connections and never answers.
func silentStore(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				<-done
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); close(done) })
	return ln.Addr().String()
}

// says waits until a line of the sidecar's output holds every want, and
// fails the test if none does within sayWithin of now (the sidecar was
// just started; the test goes on to the stop) or if it exits first.
func (s *sidecar) says(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(sayWithin)
	for {
		for line := range strings.SplitSeq(s.Output(), "\n") {
			if !containsAll(line, want) {
				continue
			}
			return
		}
		if ok, code := s.Exited(); ok {
			t.Fatalf("replicate exited with %d before saying %q: %s", code, want, s.Output())
		}
		if time.Now().After(deadline) {
			t.Errorf("no line holds all of %q within %s of the start:\n%s", want, sayWithin, s.Output())
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopsWith sends SIGTERM and fails the test unless the sidecar exits with
// code within stopWithin (plus extra: a final sync's budget); it returns
// the last line printed.
func (s *sidecar) stopsWith(t *testing.T, code int, extra ...time.Duration) string {
	t.Helper()
	bound := stopWithin
	for _, d := range extra {
		bound += d
	}
	sent := time.Now()
	got := s.Stop(t, bound+time.Minute) // an orchestrator's patience, to tell a slow stop from a hang
	took := time.Since(sent)
	line := lastLine(s.Output())
	if got != code {
		t.Errorf("exit %d after SIGTERM, want %d: %s", got, code, s.Output())
	}
	if took > bound {
		t.Errorf("exited %s after SIGTERM, want within %s: %s", took.Round(time.Millisecond), bound, s.Output())
	}
	t.Logf("exit %d %s after SIGTERM: %s", got, took.Round(time.Millisecond), line)
	return line
}

func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
