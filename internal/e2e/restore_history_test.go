package e2e_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreRefusesPrefixWithOnlyHistory: a prefix whose live history was
// moved aside by the sidecar (pkg/replicate, keepHistoryAside) before its new
// snapshot landed is not "proven empty": exit 65 naming the history, never
// a new empty database, under either policy.
func TestRestoreRefusesPrefixWithOnlyHistory(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	key := "apps/moved/history/20261122T225705Z/0009/0000000000000001-0000000000000002.ltx"
	if _, err := m.Client().PutObject(context.Background(), "backups", key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, policy := range []string{"new", "fail"} {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		r := testenv.Exec(t, time.Minute, filepath.Join(testenv.Binaries(t), "restore"),
			append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/moved", "RESTORE_IF_REPLICA_MISSING="+policy))
		if r.Code != 65 {
			t.Fatalf("policy %s: exit %d, want 65: %s", policy, r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "s3://backups/apps/moved/history/20261122T225705Z") {
			t.Errorf("policy %s: message does not name the history: %s", policy, r.Stderr)
		}
		if _, err := os.Stat(dbPath); err == nil {
			t.Errorf("policy %s: a database was left at DB_PATH", policy)
		}
		if strings.Contains(r.Output(), testenv.SecretKey) {
			t.Errorf("policy %s: output holds the secret", policy)
		}
	}
}
