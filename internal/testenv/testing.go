package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Required is for a dependency a test cannot run without: under CI=true
// its absence fails the test; elsewhere it skips with the way to fix it.
func Required(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("required test dependency missing under CI=true: %v", err)
	}
	tb.Skipf("skipping: %v", err)
}

// NewMinIO starts a MinIO for tb and stops it when tb ends.
func NewMinIO(tb testing.TB) *MinIO {
	tb.Helper()
	if _, err := Tool("minio", "MINIO_BIN"); err != nil {
		Required(tb, err)
	}
	m, err := StartMinIO(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Stop)
	return m
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds cmd/restore and cmd/replicate once per test process and
// returns the directory holding them.
func Binaries(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "litestream-sidecar-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", buildDir+"/", "./cmd/restore", "./cmd/replicate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build: " + err.Error() + ": " + string(out))
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildDir
}

// RemoveBinaries deletes the directory Binaries built into, if it did:
// the TestMain of a package that uses Binaries calls it after m.Run (Main
// does), so that a test run leaves nothing in the temp directory.
func RemoveBinaries() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Main is the TestMain of a package that uses Binaries and needs nothing
// else there: it runs the tests, removes the binaries and exits.
func Main(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}

// Result is a finished command.
type Result struct {
	Code           int
	Stdout, Stderr string
	Duration       time.Duration
}

// Output is stdout and stderr together, for "never printed" assertions.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// Exec runs bin with exactly env (plus PATH and HOME) and args, killing it
// after timeout; a timeout fails the test. Call it from the test's
// goroutine (it may call tb.Fatal); elsewhere use Run.
func Exec(tb testing.TB, timeout time.Duration, bin string, env []string, args ...string) Result {
	tb.Helper()
	r, err := Run(timeout, bin, env, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// Run is Exec for any goroutine: a timeout, or a binary that cannot start,
// is an error instead of a failed test.
func Run(timeout time.Duration, bin string, env []string, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Duration: time.Since(start)}
	if ctx.Err() != nil {
		return r, fmt.Errorf("%s %v did not finish within %s; stderr: %s", filepath.Base(bin), args, timeout, r.Stderr)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("run %s: %w", bin, err)
	}
	return r, nil
}

// FreeAddr returns a 127.0.0.1 address with a port free at the time of the call.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := FindFreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

// FindFreeAddr is FreeAddr for callers without a test (the bench, MinIO).
func FindFreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("testenv: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// UnwritableDir is a directory in which this process cannot create a file,
// root included (chattr +i), or "" when none can be made here (logged:
// the caller's case is then not run).
func UnwritableDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		tb.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			tb.Logf("no read-only directory for root here (chattr +i: %v %s); that case is not run", err, out)
			return ""
		}
		tb.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	}
	return dir
}
