//go:build faults

package faults_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestDisk: the restore target fills up (RLIMIT_FSIZE), or is not writable
// (a directory the process's user may not write): exit 73, nothing at
// DB_PATH, one clean line.
func TestDisk(t *testing.T) {
	e := newEnv(t, "disk")
	e.seed(seedRows)

	failures := 0
	runs := iterations(3, 3)
	for i := range runs {
		out := filepath.Join(t.TempDir(), "app.db")
		env := append(e.vars(e.m.Endpoint), "DB_PATH="+out)
		r := testenv.Exec(t, 2*time.Minute, "prlimit", env, "--fsize=1048576", "--", filepath.Join(e.bin, "restore"))
		e.saw(r.Output())
		if r.Code != 73 || exists(out) || clean(r.Stderr) != nil {
			failures++
			t.Errorf("run %d with a 1 MiB file size limit: exit %d (want 73), file left %v: %s", i, r.Code, exists(out), r.Stderr)
		}
	}
	record("disk: file size limit 1 MiB (RLIMIT_FSIZE) during restore", runs, failures, "exit 73, nothing at DB_PATH")

	// Root writes anywhere, so run restore as nobody against a root-owned
	// directory; the binary is copied where nobody may execute it.
	failures = 0
	binDir := worldDir(t)
	restoreBin := filepath.Join(binDir, "restore")
	data, err := os.ReadFile(filepath.Join(e.bin, "restore"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(restoreBin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range runs {
		dir := worldDir(t)
		out := filepath.Join(dir, "app.db")
		cmd := exec.Command(restoreBin)
		cmd.Env = append(e.vars(e.m.Endpoint), "DB_PATH="+out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		b, _ := cmd.CombinedOutput()
		e.saw(string(b))
		if code := cmd.ProcessState.ExitCode(); code != 73 || exists(out) || clean(string(b)) != nil {
			failures++
			t.Errorf("run %d into a directory nobody may write: exit %d (want 73): %s", i, code, b)
		}
	}
	record("disk: restore into a read-only directory", runs, failures, "exit 73 as uid 65534")
	e.noSecret()
}

// worldDir is a root-owned 0755 directory whose parents everyone may
// traverse (t.TempDir's parent is 0700).
func worldDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "faults-world-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
