//go:build faults

package faults_test

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// row is one line of the table `make faults` prints.
type row struct {
	scenario       string
	runs, failures int
	notes          string
}

var (
	tableMu sync.Mutex
	table   []row
)

// record adds a scenario's outcome to the table.
func record(scenario string, runs, failures int, notes string) {
	tableMu.Lock()
	defer tableMu.Unlock()
	table = append(table, row{scenario, runs, failures, notes})
}

func TestMain(m *testing.M) {
	p, err := readProfile(os.Getenv("FAULTS_PROFILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	profile = p
	code := m.Run()
	testenv.RemoveBinaries()
	tableMu.Lock()
	fmt.Printf("\nprofile %s, FAULTS_SCALE %s\n", profile, cmp.Or(os.Getenv("FAULTS_SCALE"), "1"))
	fmt.Printf("%-58s %5s %8s  %s\n", "SCENARIO", "RUNS", "FAILURES", "NOTES")
	for _, r := range table {
		fmt.Printf("%-58s %5d %8d  %s\n", r.scenario, r.runs, r.failures, r.notes)
	}
	tableMu.Unlock()
	os.Exit(code)
}

// The suite has two profiles (docs/faults.md, "Profiles"). Both run every
// scenario with every assertion; they differ only in how long the long
// loops run. "full" is the length at which the suite found the rare bugs
// docs/faults.md tells of (100 kills, a 5-minute soak); "ci" is what fits
// CI's budget on 2 cores, each loop still long enough to do what its
// scenario is about (several kills, several mid-way restores, a soak with
// handovers). FAULTS_PROFILE picks one; unset means full, so that a bare
// `go test -tags faults` is never the weaker run by accident.
const (
	profileFull = "full"
	profileCI   = "ci"
)

// profile is the profile of this run, set by TestMain.
var profile = profileFull

func readProfile(v string) (string, error) {
	switch v {
	case "", profileFull:
		return profileFull, nil
	case profileCI:
		return profileCI, nil
	}
	return "", fmt.Errorf("FAULTS_PROFILE=%q: want %q or %q", v, profileCI, profileFull)
}

// iterations is a loop's length in this run: full or ci by profile, then
// scaled by FAULTS_SCALE (default 1), never below 1.
func iterations(full, ci int) int {
	n := full
	if profile == profileCI {
		n = ci
	}
	if s, err := strconv.ParseFloat(os.Getenv("FAULTS_SCALE"), 64); err == nil && s > 0 {
		return max(1, int(float64(n)*s))
	}
	return n
}

var (
	writerOnce sync.Once
	writerBin  string
	writerErr  error
)

// bins returns the directory of restore and replicate, and the writer.
func bins(t *testing.T) (string, string) {
	t.Helper()
	dir := testenv.Binaries(t)
	writerOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			writerErr = err
			return
		}
		writerBin = filepath.Join(dir, "writer")
		cmd := exec.Command("go", "build", "-o", writerBin, "./internal/faults/writer")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			writerErr = fmt.Errorf("build writer: %v: %s", err, out)
		}
	})
	if writerErr != nil {
		t.Fatal(writerErr)
	}
	return dir, writerBin
}

// env is one scenario's world: a MinIO, a bucket, a prefix, a data dir.
type env struct {
	t      *testing.T
	m      *testenv.MinIO
	bin    string
	writer string
	dbPath string
	url    string

	mu       sync.Mutex
	sidecars int      // sidecars that ran over 5 s
	outs     []string // every output and HTTP body seen, for the secret check
}

// saw keeps an output for the secret check.
func (e *env) saw(out string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outs = append(e.outs, out)
}

// watchBodies fetches a sidecar's /status and /metrics every second while
// it runs, so that the secret check covers what it serves too.
func (e *env) watchBodies(p *testenv.Process, addr string) {
	c := http.Client{Timeout: 2 * time.Second}
	start, counted := time.Now(), false
	for {
		if ok, _ := p.Exited(); ok {
			return
		}
		if !counted && time.Since(start) > 5*time.Second {
			// Only a sidecar that ran a while must have been seen serving.
			counted = true
			e.mu.Lock()
			e.sidecars++
			e.mu.Unlock()
		}
		for _, path := range []string{"/status", "/metrics"} {
			if resp, err := c.Get("http://" + addr + path); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				e.saw(string(b))
			}
		}
		time.Sleep(time.Second)
	}
}

func newEnv(t *testing.T, prefix string) *env {
	t.Helper()
	bin, writer := bins(t)
	m := testenv.NewMinIO(t)
	if err := m.MakeBucket(context.Background(), "faults"); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, m: m, bin: bin, writer: writer,
		dbPath: filepath.Join(t.TempDir(), "app.db"), url: "s3://faults/" + prefix}
}

// vars is the environment for the binaries, endpoint overridable.
func (e *env) vars(endpoint string, extra ...string) []string {
	v := append(e.m.Env(), "DB_PATH="+e.dbPath, "REPLICA_URL="+e.url, "S3_ENDPOINT="+endpoint)
	return append(v, extra...)
}

// restore runs restore into dbPath through endpoint.
func (e *env) restore(dbPath, endpoint string, timeout time.Duration, extra ...string) testenv.Result {
	e.t.Helper()
	v := append(e.vars(endpoint, extra...), "DB_PATH="+dbPath)
	r := testenv.Exec(e.t, timeout, filepath.Join(e.bin, "restore"), v)
	e.saw(r.Output())
	return r
}

// verifyTo reads the replica as it is into out with `restore --verify
// --output`, the way an operator reads a live replica: the init step
// itself would wait while the running sidecar holds the lease.
func (e *env) verifyTo(out string) testenv.Result {
	e.t.Helper()
	r := testenv.Exec(e.t, 2*time.Minute, filepath.Join(e.bin, "restore"), e.vars(e.m.Endpoint), "--verify", "--output", out)
	e.saw(r.Output())
	return r
}

// startSidecar starts replicate through endpoint and returns it with its
// HTTP address.
func (e *env) startSidecar(endpoint string, extra ...string) (*testenv.Process, string) {
	e.t.Helper()
	addr := testenv.FreeAddr(e.t)
	p, err := testenv.StartProcess(filepath.Join(e.bin, "replicate"), e.vars(endpoint, append([]string{"METRICS_ADDR=" + addr}, extra...)...))
	if err != nil {
		e.t.Fatal(err)
	}
	go e.watchBodies(p, addr)
	e.t.Cleanup(func() { p.Kill(); e.saw(p.Output()) })
	if d := os.Getenv("FAULTS_LOG_DIR"); d != "" {
		e.t.Cleanup(func() {
			f, err := os.OpenFile(filepath.Join(d, e.t.Name()+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err == nil {
				fmt.Fprintf(f, "=== sidecar %s\n%s", addr, p.Output())
				f.Close()
			}
		})
	}
	return p, addr
}

// boot is a pod's start on e.dbPath: the init restore (exit 0 required),
// the app writing rate transactions a second, and the sidecar through
// MinIO directly.
func (e *env) boot(rate int, extra ...string) (writer, sidecar *testenv.Process, addr string) {
	e.t.Helper()
	e.initRestore()
	writer = e.startWriter(rate)
	sidecar, addr = e.startSidecar(e.m.Endpoint, extra...)
	return writer, sidecar, addr
}

// initRestore runs the init step on e.dbPath; anything but exit 0 ends the
// test.
func (e *env) initRestore() {
	e.t.Helper()
	if r := e.restore(e.dbPath, e.m.Endpoint, time.Minute); r.Code != 0 {
		e.t.Fatalf("init restore exit %d: %s", r.Code, r.Stderr)
	}
}

// mustReady ends the test unless the sidecar turns ready within a minute.
func (e *env) mustReady(sc *testenv.Process, addr string) {
	e.t.Helper()
	if err := testenv.WaitReady(addr, time.Minute, sc); err != nil {
		e.t.Fatalf("sidecar not ready: %v: %s", err, sc.Output())
	}
}

// midRestore restores the replica into a fresh path while the scenario
// runs and checks it with seq. midHistory reports the documented refusal
// of a prefix caught while a history that is not the latest backup (a
// replaced database's, a lost replica's leftovers) is moved aside:
// part-way through the move, or between the move and the new history's
// first snapshot. Exit 65 naming the history, never a database that lies.
// A WAL discontinuity's move is not refused: restore reads the moved
// history, the latest backup until that snapshot.
func (e *env) midRestore() (rows int64, midHistory bool, r testenv.Result, err error) {
	e.t.Helper()
	out := filepath.Join(e.t.TempDir(), "mid.db")
	r = e.verifyTo(out)
	if refusedMidHistory(r) {
		return 0, true, r, nil
	}
	rows, err = seq(out)
	return rows, false, r, err
}

// refusedMidHistory reports whether restore refused a prefix whose
// history was being moved aside (midRestore).
func refusedMidHistory(r testenv.Result) bool {
	return r.Code == 65 && (strings.Contains(r.Stderr, "earlier history") || strings.Contains(r.Stderr, "part-way through a move"))
}

// startWriter starts the app.
func (e *env) startWriter(rate int) *testenv.Process {
	e.t.Helper()
	return e.startWriterAt(e.dbPath, rate)
}

// startWriterAt starts the app on one database of several.
func (e *env) startWriterAt(path string, rate int) *testenv.Process {
	e.t.Helper()
	p, err := testenv.StartProcess(e.writer, []string{"DB_PATH=" + path, "WRITES_PER_SECOND=" + strconv.Itoa(rate)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(p.Kill)
	return p
}

// stopWriter stops the app between two commits and returns the local row
// count, which is then exactly what a clean stop must replicate. A SIGKILL
// here would be a crash, and a crash can leave a commit that is durable in
// the WAL but not yet in the wal-index: a reader of the local file does not
// see it while Litestream, which reads the WAL, ships it. That restore holds
// one row more than the local count, and the count is the one that lies.
func (e *env) stopWriter(w *testenv.Process) int64 {
	e.t.Helper()
	return e.stopWriterAt(w, e.dbPath)
}

// stopWriterAt is stopWriter for the app writing path.
func (e *env) stopWriterAt(w *testenv.Process, path string) int64 {
	e.t.Helper()
	if code, err := w.Signal(syscall.SIGTERM, 10*time.Second); err != nil || code != 0 {
		e.t.Fatalf("writer's SIGTERM: exit %d, %v: %.500s", code, err, w.Output())
	}
	local, err := seq(path)
	if err != nil {
		e.t.Fatalf("local database: %v", err)
	}
	return local
}

// noSecret fails the test when any output seen holds a credential.
func (e *env) noSecret() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	bodies := 0
	for _, o := range e.outs {
		if strings.Contains(o, testenv.SecretKey) {
			e.t.Errorf("an output holds the secret key: %.300s", o)
		}
		if strings.Contains(o, "litestream_sidecar_build_info") {
			bodies++
		}
	}
	if e.sidecars > 0 && bodies == 0 {
		e.t.Errorf("the secret check saw no /metrics body from the %d sidecars that ran over 5 s", e.sidecars)
	}
}

// lastCommitted is the highest "committed N" the writer printed.
func lastCommitted(out string) int64 {
	var last int64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			if v, err := strconv.ParseInt(n, 10, 64); err == nil {
				last = v
			}
		}
	}
	return last
}

// getJSON is testenv.GetJSON, named for brevity.
var getJSON = testenv.GetJSON

func txid(s string) uint64 {
	v, _ := strconv.ParseUint(s, 16, 64)
	return v
}

// waitSynced returns nil once every commit made before the call is in the
// replica. Litestream syncs one after another, each reading the WAL when
// it starts: a local TXID L1 first seen after the call was produced by a
// sync that may have started before it, the sync producing L1+1 may have
// too (it starts when L1's ends), but the one producing L1+2 started after
// L1+1 existed, which was after we saw L1. So replica TXID >= L1+2 covers
// every earlier commit. It needs the app to keep writing.
func waitSynced(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var l1 uint64
	for time.Now().Before(deadline) {
		if st, _, err := testenv.ReadStatus(addr); err == nil {
			if l1 == 0 {
				l1 = txid(st.LocalTXID)
			} else if txid(st.ReplicaTXID) >= l1+2 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("replica did not reach local TXID %d+2 within %s", l1, timeout)
}

// seq checks a database of the test app (testenv's row format):
// integrity_check ok and ids exactly 1..N (no gap). It returns N.
func seq(path string) (int64, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil {
		return 0, fmt.Errorf("integrity_check: %w", err)
	}
	if check != "ok" {
		return 0, fmt.Errorf("integrity_check: %s", check)
	}
	var n, lo, hi int64
	if err := db.QueryRow("SELECT count(*), coalesce(min(id),0), coalesce(max(id),0) FROM items").Scan(&n, &lo, &hi); err != nil {
		return 0, err
	}
	if n > 0 && (lo != 1 || hi != n) {
		return n, fmt.Errorf("rows are not 1..N: count %d, min %d, max %d", n, lo, hi)
	}
	return n, nil
}

// exists reports whether anything is at path (or its -wal/-shm).
func exists(path string) bool {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// listing is the replica prefix's objects, for failure reports.
func (e *env) listing() string {
	var b strings.Builder
	prefix := strings.TrimPrefix(e.url, "s3://faults/") + "/"
	for obj := range e.m.Client().ListObjects(context.Background(), "faults", minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		fmt.Fprintf(&b, "  %s %d %s\n", obj.LastModified.UTC().Format("15:04:05.000"), obj.Size, obj.Key)
	}
	return b.String()
}

// localLTX lists Litestream's local L0 files beside e.dbPath: with
// listing, what a lineage refusal is decided from.
func (e *env) localLTX() string {
	var b strings.Builder
	ents, err := os.ReadDir(ltxstate.LocalLevelDir(e.dbPath, 0))
	if err != nil {
		return "  " + err.Error() + "\n"
	}
	for _, d := range ents {
		if fi, err := d.Info(); err == nil {
			fmt.Fprintf(&b, "  %s %d %s\n", fi.ModTime().UTC().Format("15:04:05.000"), fi.Size(), d.Name())
		}
	}
	return b.String()
}

// stopAndCompare stops the sidecar with SIGTERM (exit 0 expected), restores
// into a fresh path and compares the row count with the local database's.
// It returns the restored count and the failures it reported.
func (e *env) stopAndCompare(sc *testenv.Process, local int64) (int64, int) {
	e.t.Helper()
	failures := 0
	if code, err := sc.Signal(syscall.SIGTERM, time.Minute); err != nil || code != 0 {
		failures++
		e.t.Errorf("final SIGTERM: exit %d, %v: %.500s", code, err, sc.Output())
	}
	out := filepath.Join(e.t.TempDir(), "final.db")
	r := e.restore(out, e.m.Endpoint, 2*time.Minute)
	got, err := seq(out)
	if r.Code != 0 || err != nil || got != local {
		failures++
		e.t.Errorf("final restore: exit %d, %v, %d rows, local has %d", r.Code, err, got, local)
	}
	return got, failures
}
