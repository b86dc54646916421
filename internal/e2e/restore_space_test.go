package e2e_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreNotEnoughSpace: a replica whose database does not fit on
// DB_PATH's filesystem (a 2 MiB tmpfs, mounted in a mount namespace of the
// restore's own, so nothing outlives it) exits 73 at once, naming the
// database's size and the free space, with nothing at DB_PATH and no
// download.
func TestRestoreNotEnoughSpace(t *testing.T) {
	needsPrivateMount(t)
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	src := filepath.Join(t.TempDir(), "big.db")
	app := openApp(t, src)
	for i := range 400 { // 400 × 16 KiB: about 6.5 MiB
		if err := testenv.Insert(app, i+1, strings.Repeat("x", 16<<10)); err != nil {
			t.Fatal(err)
		}
	}
	app.Close()
	const url = "s3://backups/apps/big"
	s := startSidecar(t, append(m.Env(), "DB_PATH="+src, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms"))
	s.WaitReady(t, 60*time.Second)
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("replicate exit %d: %s", code, s.Output())
	}

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	bin := filepath.Join(testenv.Binaries(t), "restore")
	r := testenv.Exec(t, 2*time.Minute, "unshare", append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url),
		"--mount", "--propagation", "private", "--", "sh", "-c", `mount -t tmpfs -o size=2m tmpfs "$1" || exit 99; "$2"; rc=$?; ls -A "$1"; exit $rc`, "sh", dir, bin)
	if r.Code != 73 {
		t.Fatalf("exit %d, want 73: %s", r.Code, r.Stderr)
	}
	line := lastLine(r.Stderr)
	for _, want := range []string{"not enough space for the restore", "the database is 6.", "has 2.0 MiB free", dir} {
		if !strings.Contains(line, want) {
			t.Fatalf("the error line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(r.Stderr, "restore in progress") || strings.Contains(r.Stderr, "msg=restoring") {
		t.Fatalf("it downloaded before refusing: %s", r.Stderr)
	}
	if left := strings.TrimSpace(r.Stdout); left != "" {
		t.Fatalf("files left on the small filesystem: %s", left)
	}
}

var errNeedsRoot = errors.New("needs root: it mounts a tmpfs in a mount namespace of its own")

// needsPrivateMount is what the tests that put a small tmpfs under a
// binary need: root and unshare (under CI=true their absence fails).
func needsPrivateMount(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Required(t, errNeedsRoot)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		testenv.Required(t, err)
	}
}
