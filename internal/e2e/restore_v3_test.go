package e2e_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/pierrec/lz4/v4"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreV3Layout: a replica in Litestream v0.3's layout
// (<prefix>/generations/<16 hex>/snapshots/<index>.snapshot.lz4), built
// here the way v0.3 wrote it (an LZ4 frame of the database file), is found
// by preflight (not "proven empty") and restored with every row; --verify
// reports it too.
func TestRestoreV3Layout(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")

	src := filepath.Join(t.TempDir(), "v3.db")
	app := openApp(t, src)
	insertRows(t, app, 1, 123)
	if _, err := app.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	app.Close()
	want := rows(t, src)
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	key := "apps/old/generations/0123456789abcdef/snapshots/00000000.snapshot.lz4"
	if _, err := m.Client().PutObject(context.Background(), "backups", key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	dbPath := filepath.Join(t.TempDir(), "app.db")
	r := runRestore(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/old", "RESTORE_IF_REPLICA_MISSING=fail"))
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	assertNoSecret(t, r)
	if got := rows(t, dbPath); !slices.Equal(got, want) {
		t.Fatalf("restored %d rows, want %d", len(got), len(want))
	}
	if mk := readMarker(t, dbPath); mk.Outcome != "restored" {
		t.Fatalf("marker outcome %q, want restored", mk.Outcome)
	}

	r = runRestore(t, append(m.Env(), "REPLICA_URL=s3://backups/apps/old"), "--verify")
	if r.Code != 0 || !strings.Contains(r.Stdout, "123 rows") {
		t.Fatalf("--verify exit %d, want 0 and items with 123 rows: %s%s", r.Code, r.Stdout, r.Stderr)
	}
}
