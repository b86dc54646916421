package ltxrestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/s3"
	"github.com/superfly/ltx"
	_ "modernc.org/sqlite" // the driver Litestream itself uses; one SQLite in the process

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/internal/tlsenv"
)

// source is a database replicated by the real Litestream library, synced
// by hand so each test decides the shape of the replica.
type source struct {
	t    *testing.T
	path string
	sql  *sql.DB
	ldb  *litestream.DB
	next int
}

func newSource(t *testing.T, client litestream.ReplicaClient, pageSize int) *source {
	t.Helper()
	path := filepath.Join(t.TempDir(), "src.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: the page size pragma must precede WAL mode on it
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{fmt.Sprintf(`PRAGMA page_size = %d`, pageSize), `PRAGMA journal_mode = wal`,
		`CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT, blob BLOB)`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ldb := litestream.NewDB(path)
	ldb.MonitorInterval = 0 // the test syncs
	ldb.Logger = slog.New(slog.DiscardHandler)
	ldb.Replica = litestream.NewReplicaWithClient(ldb, client)
	if err := ldb.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ldb.Close(context.Background()) })
	return &source{t: t, path: path, sql: db, ldb: ldb, next: 1}
}

// insert adds n rows in one transaction: text that compresses and, on
// every tenth row, a random blob that does not.
func (s *source) insert(n int) {
	s.t.Helper()
	tx, err := s.sql.Begin()
	if err != nil {
		s.t.Fatal(err)
	}
	for range n {
		var blob []byte
		if s.next%10 == 0 {
			blob = make([]byte, 3000)
			rand.Read(blob)
		}
		if _, err := tx.Exec(`INSERT INTO items (id, body, blob) VALUES (?, ?, ?)`, s.next, fmt.Sprintf("row %d %s", s.next, strings.Repeat("lorem ipsum ", s.next%40)), blob); err != nil {
			s.t.Fatal(err)
		}
		s.next++
	}
	if err := tx.Commit(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) exec(q string) {
	s.t.Helper()
	if _, err := s.sql.Exec(q); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// sync ships the WAL to the replica as one L0 file.
func (s *source) sync() {
	s.t.Helper()
	if err := s.ldb.SyncAndWait(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) snapshot() {
	s.t.Helper()
	s.sync()
	if _, err := s.ldb.Snapshot(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) compact(level int) {
	s.t.Helper()
	if _, err := s.ldb.Compact(context.Background(), level); err != nil {
		s.t.Fatal(err)
	}
}

// plan is Litestream's restore plan for the latest position.
func plan(t *testing.T, client litestream.ReplicaClient) []*ltx.FileInfo {
	t.Helper()
	p, err := litestream.CalcRestorePlan(context.Background(), client, 0, time.Time{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// upstream restores with Litestream's own Replica.Restore: the reference.
func upstream(t *testing.T, client litestream.ReplicaClient, txid ltx.TXID) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "upstream.db")
	opt := litestream.NewRestoreOptions()
	opt.OutputPath, opt.TXID = out, txid
	if err := litestream.NewReplicaWithClient(nil, client).Restore(context.Background(), opt); err != nil {
		t.Fatalf("upstream restore: %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameBytes fails with the first differing page, not a megabyte dump.
func sameBytes(t *testing.T, what string, got, want []byte, pageSize int) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, upstream restored %d", what, len(got), len(want))
	}
	for i := 0; i < len(got); i += pageSize {
		if !bytes.Equal(got[i:i+pageSize], want[i:i+pageSize]) {
			t.Fatalf("%s: page %d differs from upstream's restore", what, i/pageSize+1)
		}
	}
}

// minioClient is a Litestream S3 client on a fresh bucket of a real MinIO.
func minioClient(t *testing.T) litestream.ReplicaClient {
	t.Helper()
	tlsenv.Apply("") // as pkg/engine does: AWS_CA_BUNDLE breaks Litestream's S3 client
	m := testenv.NewMinIO(t)
	if err := m.MakeBucket(context.Background(), "bench"); err != nil {
		t.Fatal(err)
	}
	c := s3.NewReplicaClient()
	c.AccessKeyID, c.SecretAccessKey = testenv.AccessKey, testenv.SecretKey
	c.Bucket, c.Path, c.Region = "bench", "db", "us-east-1"
	c.Endpoint, c.ForcePathStyle = m.Endpoint, true
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}
