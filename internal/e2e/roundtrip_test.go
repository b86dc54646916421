// Package e2e_test runs the built binaries against a real MinIO.
package e2e_test

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRoundTrip: replicate a WAL database, write more while the sidecar
// runs, SIGTERM it right after the last commit, restore into an empty
// directory, and compare every row.
func TestRoundTrip(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 100)

	env := append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/roundtrip", "SYNC_INTERVAL=200ms")
	s := startSidecar(t, env)
	s.WaitReady(t, 30*time.Second)
	insertRows(t, app, 101, 300)
	want := rows(t, dbPath)
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("replicate exit %d after SIGTERM, want 0: %s", code, s.Output())
	}
	if strings.Contains(s.Output(), testenv.SecretKey) {
		t.Fatal("replicate printed the secret key")
	}

	out := filepath.Join(t.TempDir(), "restored", "app.db")
	r := testenv.Exec(t, 2*time.Minute, filepath.Join(testenv.Binaries(t), "restore"),
		append(m.Env(), "DB_PATH="+out, "REPLICA_URL=s3://backups/apps/roundtrip"))
	if r.Code != 0 {
		t.Fatalf("restore exit %d: %s", r.Code, r.Stderr)
	}
	if strings.Contains(r.Output(), testenv.SecretKey) {
		t.Fatal("restore printed the secret key")
	}
	if strings.Contains(r.Stderr, "falling back") {
		t.Fatalf("the parallel restore path failed on a healthy replica: %s", r.Stderr)
	}
	got := rows(t, out)
	if len(want) != 300 {
		t.Fatalf("source has %d rows, want 300", len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("restored %d rows, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

// TestRestoreLeavesExistingDatabase: when DB_PATH exists and is healthy,
// restore exits 0 and does not touch a byte of it, even with a replica
// configured that holds other data.
func TestRestoreLeavesExistingDatabase(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	insertRows(t, app, 1, 50)
	app.Close()
	before := fileState(t, dbPath)

	r := testenv.Exec(t, time.Minute, filepath.Join(testenv.Binaries(t), "restore"),
		append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/other"))
	if r.Code != 0 {
		t.Fatalf("restore exit %d, want 0: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "already present") {
		t.Errorf("restore did not say the database was already present: %s", r.Stderr)
	}
	if after := fileState(t, dbPath); after != before {
		t.Fatalf("existing database changed: before %s, after %s", before, after)
	}
}

// fileState is a file's content hash, size and modification time.
func fileState(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join([]string{string(rune(0)), st.ModTime().String(), st.Mode().String()}, "|") +
		"|" + string(sha256Sum(b))
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
