package e2e_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreMemoryLimit: inside a memory cgroup, restore sets the Go
// runtime's soft limit to 70% of the cgroup's, so that the garbage
// collector, not the kernel's OOM killer, answers a tight limit (a 4 GiB
// restore inside 64 MiB, bench/results.txt); GOMEMLIMIT in the
// environment wins. Read off restore's debug line.
func TestRestoreMemoryLimit(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	const limit = 100 << 20
	cg, err := testenv.NewMemCgroup(limit)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Remove()
	bin := filepath.Join(testenv.Binaries(t), "restore")
	for _, tc := range []struct {
		env  string
		want int64
	}{
		{"", limit * 7 / 10},
		{"GOMEMLIMIT=12MiB", 12 << 20},
	} {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		env := append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/new", "LOG_LEVEL=debug")
		if tc.env != "" {
			env = append(env, tc.env)
		}
		argv := cg.Command(bin)
		r := testenv.Exec(t, time.Minute, argv[0], env, argv[1:]...)
		if r.Code != 0 {
			t.Fatalf("%q: exit %d: %s", tc.env, r.Code, r.Stderr)
		}
		want := fmt.Sprintf(`msg="Go memory limit" gomemlimit_bytes=%d `, tc.want)
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("%q: restore did not log %s: %s", tc.env, want, r.Stderr)
		}
	}
}
