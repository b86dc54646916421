package e2e_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// checkpoint is a position the sidecar reached and the rows it holds.
type checkpoint struct {
	TXID ltx.TXID
	Rows []string
	At   time.Time // after the commit was replicated
}

// seeded is a replica the real sidecar wrote, with what it held at each
// checkpoint, and the source database it came from.
type seeded struct {
	m      *testenv.MinIO
	bucket string
	prefix string
	dbPath string
	app    *sql.DB
	side   *sidecar
	points []checkpoint
}

// seedReplica runs the sidecar on a new database under bucket/prefix and
// commits batches, one transaction each, waiting after each commit until a
// new LTX file is in the bucket, so every checkpoint names exactly the rows
// replicated by its TXID. The sidecar keeps running until stopSidecar.
func seedReplica(t *testing.T, m *testenv.MinIO, bucket, prefix string, batches int) *seeded {
	t.Helper()
	s := &seeded{m: m, bucket: bucket, prefix: prefix, dbPath: filepath.Join(t.TempDir(), "app.db")}
	s.app = openApp(t, s.dbPath)
	t.Cleanup(func() { s.app.Close() })
	insertRows(t, s.app, 1, 20)
	// LEASE=false: these tests restore while the seeding sidecar runs, to
	// pin positions mid-history; with its lease, the init step would wait
	// for it to stop (TestHandover tests that wait).
	s.side = startSidecar(t, append(m.Env(), "DB_PATH="+s.dbPath, "REPLICA_URL=s3://"+bucket+"/"+prefix, "SYNC_INTERVAL=100ms", "LEASE=false"))
	s.side.WaitReady(t, 30*time.Second)
	s.waitPast(t, 0)
	for b := 0; b < batches; b++ {
		s.commitBatch(t, 21+b*10, 30+b*10)
	}
	return s
}

// commitBatch inserts ids from..to in one transaction and waits for it to
// reach the bucket, recording a checkpoint.
func (s *seeded) commitBatch(t *testing.T, from, to int) checkpoint {
	t.Helper()
	before := s.maxTXID(t)
	tx, err := s.app.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i <= to; i++ {
		if err := testenv.Insert(tx, i, testenv.Body(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return s.waitPast(t, before)
}

// waitPast waits until the bucket holds an LTX file past txid and records
// the checkpoint.
func (s *seeded) waitPast(t *testing.T, txid ltx.TXID) checkpoint {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if got := s.maxTXID(t); got > txid {
			// Let a sync that started before the commit finish: the
			// position must stay put once everything is shipped.
			time.Sleep(300 * time.Millisecond)
			if again := s.maxTXID(t); again != got {
				continue
			}
			cp := checkpoint{TXID: got, Rows: rows(t, s.dbPath), At: time.Now().UTC()}
			s.points = append(s.points, cp)
			return cp
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sidecar did not replicate past %s within 30s: %s", txid, s.side.Output())
	return checkpoint{}
}

// stopSidecar stops the sidecar cleanly.
func (s *seeded) stopSidecar(t *testing.T) {
	t.Helper()
	if code := s.side.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("replicate exit %d after SIGTERM: %s", code, s.side.Output())
	}
}

var ltxName = regexp.MustCompile(`/([0-9a-f]{4})/([0-9a-f]{16})-([0-9a-f]{16})\.ltx$`)

// ltxObjects lists the LTX objects under the prefix.
func (s *seeded) ltxObjects(t *testing.T) []minio.ObjectInfo {
	t.Helper()
	var out []minio.ObjectInfo
	for obj := range s.m.Client().ListObjects(context.Background(), s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		if ltxName.MatchString(obj.Key) {
			out = append(out, obj)
		}
	}
	return out
}

func (s *seeded) maxTXID(t *testing.T) ltx.TXID {
	t.Helper()
	var max ltx.TXID
	for _, obj := range s.ltxObjects(t) {
		m := ltxName.FindStringSubmatch(obj.Key)
		if id, err := ltx.ParseTXID(m[3]); err == nil && id > max {
			max = id
		}
	}
	return max
}

// restoreEnv is the environment of a restore of s into dbPath.
func (s *seeded) restoreEnv(dbPath string, extra ...string) []string {
	return append(append(s.m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://"+s.bucket+"/"+s.prefix), extra...)
}

// runRestore runs the restore binary.
func runRestore(t *testing.T, env []string, args ...string) testenv.Result {
	t.Helper()
	return testenv.Exec(t, 2*time.Minute, filepath.Join(testenv.Binaries(t), "restore"), env, args...)
}

// assertFailed checks what every failed restore must guarantee: the exit
// code, nothing at DB_PATH (nor a temp file beside it), no secret printed,
// and a one-line error.
func assertFailed(t *testing.T, r testenv.Result, code int, dbPath string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit %d, want %d; stderr: %s", r.Code, code, r.Stderr)
	}
	if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
		t.Fatalf("DB_PATH exists after a failed restore (stat: %v)", err)
	}
	if ents, err := os.ReadDir(filepath.Dir(dbPath)); err == nil {
		for _, e := range ents {
			if strings.Contains(e.Name(), ".restore-") {
				t.Fatalf("temp file %s left beside DB_PATH", e.Name())
			}
		}
	}
	assertNoSecret(t, r)
	last := lastLine(r.Stderr)
	if !strings.HasPrefix(last, "restore: error (exit ") {
		t.Fatalf("last stderr line is not the one-line error: %q", last)
	}
}

func assertNoSecret(t *testing.T, r testenv.Result) {
	t.Helper()
	if strings.Contains(r.Output(), testenv.SecretKey) {
		t.Fatal("restore printed the secret key")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// readMarker reads the restore marker beside dbPath.
func readMarker(t *testing.T, dbPath string) ltxstate.Marker {
	t.Helper()
	mk, err := ltxstate.ReadMarker(dbPath)
	if err != nil {
		t.Fatalf("restore marker: %v", err)
	}
	return mk
}
