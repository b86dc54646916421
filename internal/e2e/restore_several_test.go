package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TestRestoreSeveral: DB_PATH lists two databases of one pod. Each
// replicates to REPLICA_URL/<file name> (here written by a single-database
// sidecar each, which is what that layout is): one holds a backup, the
// other is empty. One restore brings back the first and proves the second
// new; --verify reports both; a third database whose replica is corrupt
// fails alone, with a line naming it, and the most severe code.
func TestRestoreSeveral(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/sonarr/sonarr.db", 2)
	s.stopSidecar(t)
	want := s.points[len(s.points)-1].Rows

	dir := t.TempDir()
	app, logs := filepath.Join(dir, "sonarr.db"), filepath.Join(dir, "logs.db")
	env := append(m.Env(), "DB_PATH="+app+","+logs, "REPLICA_URL=s3://backups/apps/sonarr")
	r := runRestore(t, env)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if got := rows(t, app); !slices.Equal(got, want) {
		t.Fatalf("sonarr.db restored %d rows, want %d", len(got), len(want))
	}
	if _, err := os.Stat(logs); !os.IsNotExist(err) {
		t.Fatalf("logs.db exists after its replica was proven empty: %v", err)
	}
	for db, outcome := range map[string]string{app: ltxstate.OutcomeRestored, logs: ltxstate.OutcomeNew} {
		mk := readMarker(t, db)
		if mk.Outcome != outcome || mk.ReplicaURL != "s3://backups/apps/sonarr/"+filepath.Base(db) {
			t.Fatalf("%s marker %+v, want %s from its own sub-prefix", filepath.Base(db), mk, outcome)
		}
	}
	for _, line := range strings.Split(r.Stderr, "\n") {
		if strings.Contains(line, "msg=restoring") && !strings.Contains(line, "db="+app) {
			t.Fatalf("a progress line does not name its database: %s", line)
		}
	}

	// --verify reports every database: a JSON array, copies in a directory.
	out := filepath.Join(t.TempDir(), "copies")
	r = runRestore(t, env, "--verify", "--json", "--output="+out)
	var reps []struct {
		ReplicaURL string `json:"replica_url"`
		Integrity  string `json:"integrity"`
	}
	if r.Code != 65 || json.Unmarshal([]byte(r.Stdout), &reps) != nil || len(reps) != 1 || reps[0].ReplicaURL != "s3://backups/apps/sonarr/sonarr.db" || reps[0].Integrity != "ok" {
		t.Fatalf("--verify of one database with a backup and one without: exit %d (want 65: logs.db has nothing to verify), reports %s: %s", r.Code, r.Stdout, r.Stderr)
	}
	if got := rows(t, filepath.Join(out, "sonarr.db")); !slices.Equal(got, want) {
		t.Fatalf("--output copy has %d rows, want %d", len(got), len(want))
	}
	if r := runRestore(t, env, "--txid=1"); r.Code != 64 || !strings.Contains(r.Stderr, "--txid") {
		t.Fatalf("--txid with several databases: exit %d, want 64: %s", r.Code, r.Stderr)
	}

	// A third database whose only object is garbage fails alone.
	if _, err := m.Client().PutObject(t.Context(), "backups", "apps/sonarr/bad.db/0009/0000000000000001-0000000000000001.ltx",
		strings.NewReader(strings.Repeat("x", 4096)), 4096, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	dir2 := t.TempDir()
	bad, app2 := filepath.Join(dir2, "bad.db"), filepath.Join(dir2, "sonarr.db")
	r = runRestore(t, append(m.Env(), "DB_PATH="+app2+","+bad, "REPLICA_URL=s3://backups/apps/sonarr"))
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	failing := slices.DeleteFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "restore: error") })
	if r.Code != 65 || len(failing) != 1 || !strings.Contains(failing[0], bad+":") {
		t.Fatalf("one corrupt database of two: exit %d (want 65), error lines %q (want one naming %s)", r.Code, failing, bad)
	}
	if got := rows(t, app2); !slices.Equal(got, want) {
		t.Fatalf("the healthy database beside a failing one restored %d rows, want %d", len(got), len(want))
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("something was left at the failing database's path: %v", err)
	}
}
