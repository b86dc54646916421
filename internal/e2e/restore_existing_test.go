package e2e_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TestRestoreDamagedExisting: a database already at DB_PATH that fails its
// integrity check exits 65 naming it, and is left byte for byte as it was,
// whatever the replica says: with no local position (no network call),
// with a position and an empty replica (kept otherwise), with a position
// the replica is ahead of (replaced otherwise), and with the store down
// (exit 69 otherwise). The check runs while the replica is asked; these
// cases prove that no outcome is taken before its own.
func TestRestoreDamagedExisting(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/ahead", 2)
	s.stopSidecar(t)

	for _, tc := range []struct {
		name, prefix, endpoint string
		txid                   uint64 // local position the marker records; 0: no marker
	}{
		{"no local position", "apps/ahead", m.Endpoint, 0},
		{"replica empty", "apps/empty", m.Endpoint, 5},
		{"replica ahead", "apps/ahead", m.Endpoint, 1},
		{"store down", "apps/ahead", "http://" + testenv.FreeAddr(t), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			garbage := make([]byte, 64<<10)
			rand.Read(garbage)
			if err := os.WriteFile(dbPath, garbage, 0o644); err != nil {
				t.Fatal(err)
			}
			url := "s3://backups/" + tc.prefix
			if tc.txid != 0 {
				if err := ltxstate.WriteMarker(dbPath, ltxstate.Marker{ReplicaURL: url, TXID: tc.txid,
					Outcome: ltxstate.OutcomeRestored, Time: time.Now().UTC()}); err != nil {
					t.Fatal(err)
				}
			}
			before := fileState(t, dbPath)
			env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=" + url, "S3_ENDPOINT=" + tc.endpoint,
				"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey,
				"RESTORE_TIMEOUT=3s"}
			r := runRestore(t, env)
			if r.Code != 65 {
				t.Fatalf("exit %d, want 65: %s", r.Code, r.Stderr)
			}
			line := lastLine(r.Stderr)
			if !strings.Contains(line, "existing database "+dbPath) || !strings.Contains(line, "integrity check failed") {
				t.Fatalf("the error line does not name the damaged database: %s", line)
			}
			if strings.Contains(r.Stderr, "leaving it untouched") {
				t.Fatalf("restore logged that it keeps a database that fails its check: %s", r.Stderr)
			}
			if after := fileState(t, dbPath); after != before {
				t.Fatalf("the damaged database changed: before %s, after %s", before, after)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dbPath), "*")); len(left) != 1+min(int(tc.txid), 1) {
				t.Fatalf("restore left files beside the database: %v", left)
			}
		})
	}
}
