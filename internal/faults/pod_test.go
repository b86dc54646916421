//go:build faults

package faults_test

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/faultproxy"
	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// pod is one copy of the app for the two-writers scenarios: its own data
// directory (the ephemeral volume), writer and sidecar, and its own proxy
// to MinIO so that its node can be cut off alone.
type pod struct {
	e    *env
	name string
	dir  string
	db   string
	px   *faultproxy.Proxy

	mu      sync.Mutex
	writer  *testenv.Process
	sc      *testenv.Process
	addr    string
	pending bool // the init step is owed: its last restore did not exit 0
}

func (e *env) newPod(name string) *pod {
	dir := filepath.Join(e.t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return &pod{e: e, name: name, dir: dir, db: filepath.Join(dir, "app.db"), px: proxy(e.t, e.m.Addr)}
}

func (p *pod) endpoint() string { return "http://" + p.px.Addr() }

// reschedule is the pod started again on another node: the writer and the
// sidecar die, the ephemeral volume is gone, the init step restores. It
// returns the restore's result. While the other copy holds the lease the
// init step waits for it, here at most leaseWait, then exits 75 and
// initRestore is owed (an orchestrator retries it).
func (p *pod) reschedule(leaseWait time.Duration) testenv.Result {
	p.e.t.Helper()
	p.stop()
	if err := os.RemoveAll(p.dir); err != nil {
		p.e.t.Fatal(err)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.e.t.Fatal(err)
	}
	p.px.SetMode(faultproxy.Pass)
	return p.initRestore(leaseWait)
}

// initRestore runs the init step on the pod's volume; pending records
// whether it is still owed (it did not exit 0).
func (p *pod) initRestore(leaseWait time.Duration) testenv.Result {
	p.e.t.Helper()
	r := p.e.restore(p.db, p.endpoint(), leaseWait+2*time.Minute, "RESTORE_LEASE_WAIT="+leaseWait.String())
	p.mu.Lock()
	p.pending = r.Code != 0
	p.mu.Unlock()
	return r
}

func (p *pod) isPending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending
}

// stop SIGKILLs the writer and the sidecar.
func (p *pod) stop() {
	p.mu.Lock()
	w, sc := p.writer, p.sc
	p.writer, p.sc, p.addr = nil, nil, ""
	p.mu.Unlock()
	for _, proc := range []*testenv.Process{w, sc} {
		if proc != nil {
			proc.Kill()
			p.e.saw(proc.Output())
		}
	}
}

func (p *pod) startWriter(rate int) {
	w, err := testenv.StartProcess(p.e.writer, []string{"DB_PATH=" + p.db, "WRITES_PER_SECOND=" + strconv.Itoa(rate)})
	if err != nil {
		p.e.t.Fatal(err)
	}
	p.e.t.Cleanup(w.Kill)
	p.mu.Lock()
	p.writer = w
	p.mu.Unlock()
}

// rows is the row count of the pod's database (-1 when unreadable).
func (p *pod) rows() int64 {
	n, err := seq(p.db)
	if err != nil {
		return -1
	}
	return n
}

// stopWriter stops the writer between two commits (SIGTERM; see
// env.stopWriter for why not SIGKILL) and returns its last acknowledged
// commit.
func (p *pod) stopWriter() int64 {
	p.mu.Lock()
	w := p.writer
	p.writer = nil
	p.mu.Unlock()
	if w == nil {
		return 0
	}
	if code, err := w.Signal(syscall.SIGTERM, 10*time.Second); err != nil || code != 0 {
		p.e.t.Errorf("%s's writer on SIGTERM: exit %d, %v: %.500s", p.name, code, err, w.Output())
	}
	return lastCommitted(w.Output())
}

func (p *pod) startSidecar() {
	sc, addr := p.e.startSidecar(p.endpoint(), "DB_PATH="+p.db, "SYNC_INTERVAL=250ms", "S3_STALL_TIMEOUT=3s")
	p.mu.Lock()
	p.sc, p.addr = sc, addr
	p.mu.Unlock()
}

// sidecar returns the running (or last) sidecar and its address.
func (p *pod) sidecar() (*testenv.Process, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sc, p.addr
}

// signal sends sig to the sidecar without waiting for it.
func (p *pod) signal(sig syscall.Signal) {
	if sc, _ := p.sidecar(); sc != nil {
		syscall.Kill(sc.Pid(), sig)
	}
}

// st reads the sidecar's /status; ok is false when it does not answer.
func (p *pod) st() (telemetry.Status, bool) {
	_, addr := p.sidecar()
	if addr == "" {
		return telemetry.Status{}, false
	}
	s, code, err := testenv.ReadStatus(addr)
	return s, err == nil && code == 200
}

// held reports whether the sidecar says it holds the lease now.
func (p *pod) held() bool {
	s, ok := p.st()
	return ok && s.LeaseHeld
}
