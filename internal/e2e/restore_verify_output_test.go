package e2e_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreVerifyOutput: the copy --verify --output keeps is one file,
// without the -wal and -shm SQLite's read-only check leaves beside a WAL
// database; and an --output that cannot be written is refused before the
// download with exit 73 and one line naming --output and its path (it
// used to be Litestream's "create temp database path", or for a name too
// long exit 65, as if the replica were damaged).
func TestRestoreVerifyOutput(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/kept", 1)
	s.stopSidecar(t)
	last := s.points[len(s.points)-1]
	flags := []string{"--verify", "--replica-url=s3://backups/apps/kept", "--s3-endpoint=" + m.Endpoint,
		"--aws-access-key-id=" + testenv.AccessKey, "--aws-secret-access-key=" + testenv.SecretKey}

	dir := t.TempDir()
	kept := filepath.Join(dir, "kept.db")
	if r := runRestore(t, nil, append(flags, "--output="+kept)...); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"kept.db"}) {
		t.Errorf("--output left %v; want kept.db alone", names)
	}
	if got := rows(t, kept); !slices.Equal(got, last.Rows) {
		t.Fatalf("kept copy has %d rows, want %d", len(got), len(last.Rows))
	}

	notDir := filepath.Join(dir, "kept.db") // a file: nothing goes under it
	cases := map[string]string{
		"name too long": filepath.Join(t.TempDir(), strings.Repeat("x", 300)+".db"),
		"under a file":  filepath.Join(notDir, "copy.db"),
	}
	if ro := testenv.UnwritableDir(t); ro != "" {
		cases["read-only directory"] = filepath.Join(ro, "copy.db")
	}
	for name, out := range cases {
		r := runRestore(t, nil, append(flags, "--output="+out)...)
		assertNoSecret(t, r)
		line := lastLine(r.Stderr)
		if r.Code != 73 || !strings.Contains(line, "--output "+out+": ") || strings.Contains(r.Stderr, "temp database") {
			t.Errorf("%s: exit %d, last line %q; want 73 naming --output %s", name, r.Code, line, out)
		}
		if strings.Contains(r.Stderr, "falling back") {
			t.Errorf("%s: a download started before --output was refused: %s", name, r.Stderr)
		}
	}
}
