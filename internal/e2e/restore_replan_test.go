package e2e_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreReplansWhenCompacted: the sidecar's compaction and retention
// replace level-0 files by a higher level's and delete them, also while a
// restore that planned with them runs (upstream litestream#1270). A proxy
// in front of the real MinIO does exactly that to the first level-0 file
// the restore reads: copies it to level 1, deletes it, then lets the read
// through (404). The restore must plan again and finish, on its own
// parallel path, with every row.
func TestRestoreReplansWhenCompacted(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/compacted", 3)
	s.stopSidecar(t)
	last := s.points[len(s.points)-1]

	px := compactingStore(t, m)
	dbPath := filepath.Join(t.TempDir(), "app.db")
	env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/apps/compacted", "S3_ENDPOINT=" + px.URL,
		"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey}
	r := runRestore(t, env)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if px.moved() == "" {
		t.Fatal("the proxy moved no level-0 file: the plan read none, and the test proves nothing")
	}
	if !strings.Contains(r.Stderr, "planning the restore again") || strings.Contains(r.Stderr, "falling back") {
		t.Fatalf("want one more plan on the parallel path (moved %s), not Litestream's fallback: %s", px.moved(), r.Stderr)
	}
	if got := rows(t, dbPath); !slices.Equal(got, last.Rows) {
		t.Fatalf("restored %d rows, want %d", len(got), len(last.Rows))
	}
}

// level0Read matches a ranged read of a level-0 LTX object: group 1 is
// the bucket, 2 the prefix, 3 the file name.
var level0Read = regexp.MustCompile(`^/([^/]+)/(.+)/0000/([0-9a-f]{16}-[0-9a-f]{16}\.ltx)$`)

type compacting struct {
	URL  string
	mu   sync.Mutex
	done string // the object moved, "" before
}

func (c *compacting) moved() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// compactingStore proxies to m and, on the first read of a level-0 object,
// moves it to level 1 as compaction and retention would, then forwards the
// read.
func compactingStore(t *testing.T, m *testenv.MinIO) *compacting {
	t.Helper()
	c := &compacting{}
	srv := storeProxy(t, m, func(w http.ResponseWriter, r *http.Request, pass http.Handler) {
		if g := level0Read.FindStringSubmatch(r.URL.Path); r.Method == http.MethodGet && g != nil {
			c.mu.Lock()
			if c.done == "" {
				src := g[2] + "/0000/" + g[3]
				dst := minio.CopyDestOptions{Bucket: g[1], Object: g[2] + "/0001/" + g[3]}
				if _, err := m.Client().CopyObject(r.Context(), dst, minio.CopySrcOptions{Bucket: g[1], Object: src}); err != nil {
					t.Errorf("compact %s: %v", src, err)
				} else if err := m.Client().RemoveObject(r.Context(), g[1], src, minio.RemoveObjectOptions{}); err != nil {
					t.Errorf("remove %s: %v", src, err)
				}
				c.done = src
			}
			c.mu.Unlock()
		}
		pass.ServeHTTP(w, r)
	})
	c.URL = srv.URL
	return c
}
