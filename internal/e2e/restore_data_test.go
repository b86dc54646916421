package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/engine"
)

// TestRestoreCorruptObject: one LTX object of the restore overwritten with
// garbage, and (separately) one truncated, each exit 65 with nothing at
// DB_PATH; so do small flips inside a valid object. Every object of Litestream's restore plan is damaged in turn
// (objects outside the plan are never read, so damaging them proves
// nothing).
func TestRestoreCorruptObject(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/corrupt", 3)
	s.stopSidecar(t)
	ctx := context.Background()
	c := m.Client()
	keys := s.planKeys(t)
	if len(keys) < 1 {
		t.Fatal("empty restore plan")
	}

	damage := func(t *testing.T, key string, mutate func([]byte) []byte) (restoreObj func()) {
		t.Helper()
		o, err := c.GetObject(ctx, "backups", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		orig, err := io.ReadAll(o)
		if err != nil {
			t.Fatal(err)
		}
		put := func(b []byte) {
			if _, err := c.PutObject(ctx, "backups", key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		put(mutate(slices.Clone(orig)))
		return func() { put(orig) }
	}
	garbage := func(b []byte) []byte {
		for i := range b {
			b[i] = byte(i*7 + 13)
		}
		return b
	}
	truncate := func(b []byte) []byte { return b[:len(b)/2] }

	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
	}{{"garbage", garbage}, {"truncated", truncate},
		// Small flips inside a valid object: only the LTX checksums
		// (which Litestream verifies) can catch these.
		{"flipped middle", func(b []byte) []byte {
			for i := len(b) / 2; i < len(b)/2+4 && i < len(b); i++ {
				b[i] ^= 0x55
			}
			return b
		}},
		{"flipped bit near the end", func(b []byte) []byte { b[len(b)-20] ^= 0x01; return b }},
	} {
		for _, key := range keys {
			t.Run(tc.name+"/"+strings.TrimPrefix(key, s.prefix+"/"), func(t *testing.T) {
				undo := damage(t, key, tc.mutate)
				defer undo()
				dbPath := filepath.Join(t.TempDir(), "app.db")
				r := runRestore(t, s.restoreEnv(dbPath))
				assertFailed(t, r, 65, dbPath)
			})
		}
	}
	// Undamaged again, the same replica restores: the failures above were
	// the damage, not the setup.
	dbPath := filepath.Join(t.TempDir(), "app.db")
	if r := runRestore(t, s.restoreEnv(dbPath)); r.Code != 0 {
		t.Fatalf("undamaged restore exit %d: %s", r.Code, r.Stderr)
	}
	if got, want := rows(t, dbPath), s.points[len(s.points)-1].Rows; !slices.Equal(got, want) {
		t.Fatalf("restored %d rows, want %d", len(got), len(want))
	}
}

// TestRestorePointInTime: --txid at a middle checkpoint (as Litestream
// prints it, and in decimal) and --timestamp between two checkpoints both
// return exactly the rows committed by then, and the marker names that TXID.
func TestRestorePointInTime(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/pit", 2)
	mid := s.points[len(s.points)-1]
	// RFC 3339 has whole seconds: put a second boundary between mid and
	// the next commits, and restore to it.
	next := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(next) + 200*time.Millisecond)
	s.commitBatch(t, 300, 310)
	s.commitBatch(t, 311, 330)
	s.stopSidecar(t)
	last := s.points[len(s.points)-1]
	if len(mid.Rows) == len(last.Rows) {
		t.Fatalf("middle checkpoint has as many rows as the last (%d): the test would prove nothing", len(mid.Rows))
	}

	for _, arg := range []string{"--txid=" + mid.TXID.String(), "--txid=" + strconv.FormatUint(uint64(mid.TXID), 10),
		"--timestamp=" + next.UTC().Format(time.RFC3339)} {
		t.Run(arg, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			r := runRestore(t, s.restoreEnv(dbPath), arg)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			assertNoSecret(t, r)
			if got := rows(t, dbPath); !slices.Equal(got, mid.Rows) {
				t.Fatalf("restored %d rows, want exactly the %d committed by TXID %s", len(got), len(mid.Rows), mid.TXID)
			}
			if mk := readMarker(t, dbPath); mk.TXID != uint64(mid.TXID) {
				t.Fatalf("marker TXID %d, want %d", mk.TXID, mid.TXID)
			}
		})
	}
	t.Run("txid beyond the replica", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		r := runRestore(t, s.restoreEnv(dbPath), "--txid="+strconv.FormatUint(uint64(last.TXID)+1000, 10))
		assertFailed(t, r, 65, dbPath)
	})
	// A time before the oldest snapshot: the line names what can be
	// restored, not only "transaction not available".
	t.Run("timestamp before the oldest backup", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		r := runRestore(t, s.restoreEnv(dbPath), "--timestamp=2001-01-01T00:00:00Z")
		assertFailed(t, r, 65, dbPath)
		want := fmt.Sprintf("it can restore from %s", s.points[0].At.UTC().Format("2006-01-02T"))
		if !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "(txid "+last.TXID.String()+")") {
			t.Fatalf("the error does not name the restorable span (want %q… to txid %s): %s", want, last.TXID, r.Stderr)
		}
	})
}

// TestRestoreExistingAndStale: a healthy database whose position equals the
// replica's is left alone (exit 0, not a byte changed); one behind the
// replica (the node's copy from before a failover) is moved aside, kept,
// and replaced by the replica's latest rows.
func TestRestoreExistingAndStale(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/stale", 1)

	node := filepath.Join(t.TempDir(), "node")
	dbPath := filepath.Join(node, "app.db")
	if r := runRestore(t, s.restoreEnv(dbPath)); r.Code != 0 {
		t.Fatalf("first restore exit %d: %s", r.Code, r.Stderr)
	}
	oldRows := rows(t, dbPath)

	t.Run("current copy is kept", func(t *testing.T) {
		before := fileState(t, dbPath)
		r := runRestore(t, s.restoreEnv(dbPath))
		if r.Code != 0 || !strings.Contains(r.Stderr, "already present") {
			t.Fatalf("exit %d, want 0 and \"already present\": %s", r.Code, r.Stderr)
		}
		if fileState(t, dbPath) != before {
			t.Fatal("a current database was changed")
		}
	})

	// The app moved to another node, which wrote more.
	s.commitBatch(t, 500, 520)
	s.stopSidecar(t)
	want := s.points[len(s.points)-1].Rows

	r := runRestore(t, s.restoreEnv(dbPath))
	if r.Code != 0 {
		t.Fatalf("stale restore exit %d: %s", r.Code, r.Stderr)
	}
	assertNoSecret(t, r)
	if !strings.Contains(r.Stderr, "STALE LOCAL DATABASE MOVED ASIDE") {
		t.Fatalf("moving the stale copy aside was not logged loudly: %s", r.Stderr)
	}
	if got := rows(t, dbPath); !slices.Equal(got, want) {
		t.Fatalf("restored %d rows, want the replica's %d", len(got), len(want))
	}
	mk := readMarker(t, dbPath)
	if mk.MovedAside == "" {
		t.Fatal("marker does not say where the stale copy went")
	}
	if got := rows(t, mk.MovedAside); !slices.Equal(got, oldRows) {
		t.Fatalf("stale copy at %s has %d rows, want its original %d", mk.MovedAside, len(got), len(oldRows))
	}
}

// TestRestoreVerify: --verify with flags only (no DB_PATH) prints a human
// report and a JSON one with the replica URL, last TXID, tables with row
// counts and the integrity result; it creates nothing in the working
// directory and changes nothing in the bucket.
func TestRestoreVerify(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/verify", 2)
	s.stopSidecar(t)
	last := s.points[len(s.points)-1]
	before := objectSet(t, s)
	flags := []string{"--verify", "--replica-url=s3://backups/apps/verify", "--s3-endpoint=" + m.Endpoint,
		"--aws-access-key-id=" + testenv.AccessKey, "--aws-secret-access-key=" + testenv.SecretKey}

	r := runRestore(t, nil, flags...)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	assertNoSecret(t, r)
	for _, want := range []string{"s3://backups/apps/verify", "TXID " + last.TXID.String(),
		"items", strconv.Itoa(len(last.Rows)) + " rows", "Integrity (quick):", "ok", "Database size:"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("report lacks %q:\n%s", want, r.Stdout)
		}
	}

	out := filepath.Join(t.TempDir(), "kept.db")
	r = runRestore(t, nil, append(flags, "--json", "--output="+out)...)
	if r.Code != 0 {
		t.Fatalf("--json exit %d: %s", r.Code, r.Stderr)
	}
	var rep struct {
		ReplicaURL string `json:"replica_url"`
		TXID       string `json:"txid"`
		Integrity  string `json:"integrity"`
		Database   struct {
			PageCount int64 `json:"page_count"`
			Tables    []struct {
				Name string `json:"name"`
				Rows int    `json:"rows"`
			} `json:"tables"`
			Internal []struct {
				Name string `json:"name"`
			} `json:"internal_tables"`
		} `json:"database"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.Stdout)
	}
	if rep.ReplicaURL != "s3://backups/apps/verify" || rep.TXID != last.TXID.String() || rep.Integrity != "ok" || rep.Database.PageCount == 0 {
		t.Fatalf("report %+v, want URL, TXID %s, integrity ok", rep, last.TXID)
	}
	i := slices.IndexFunc(rep.Database.Tables, func(tb struct {
		Name string `json:"name"`
		Rows int    `json:"rows"`
	}) bool {
		return tb.Name == "items"
	})
	if i < 0 || rep.Database.Tables[i].Rows != len(last.Rows) || len(rep.Database.Tables) != 1 {
		t.Fatalf("tables %+v, want items with %d rows and nothing else of the app's", rep.Database.Tables, len(last.Rows))
	}
	// Litestream's own tables are in the file, reported apart.
	var own []string
	for _, tb := range rep.Database.Internal {
		own = append(own, tb.Name)
	}
	if !slices.Contains(own, "_litestream_seq") || !slices.Contains(own, "_litestream_lock") {
		t.Fatalf("internal tables %v, want Litestream's _litestream_seq and _litestream_lock apart from the app's", own)
	}
	if got := rows(t, out); !slices.Equal(got, last.Rows) {
		t.Fatalf("--output copy has %d rows, want %d", len(got), len(last.Rows))
	}
	if after := objectSet(t, s); !slices.Equal(after, before) {
		t.Fatalf("--verify changed the bucket:\nbefore %v\nafter  %v", before, after)
	}
}

// objectSet is every object under the prefix with its ETag.
func objectSet(t *testing.T, s *seeded) []string {
	t.Helper()
	var out []string
	for obj := range s.m.Client().ListObjects(context.Background(), s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out = append(out, obj.Key+" "+obj.ETag)
	}
	return out
}

// planKeys is the object keys of Litestream's restore plan for the latest
// position, computed by the library itself.
func (s *seeded) planKeys(t *testing.T) []string {
	t.Helper()
	cfg := &config.Config{ReplicaURL: "s3://" + s.bucket + "/" + s.prefix, S3Endpoint: s.m.Endpoint, S3Region: "us-east-1",
		AccessKeyID: testenv.AccessKey, SecretAccessKey: testenv.SecretKey}
	c := engine.NewClient(cfg, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	plan, err := litestream.CalcRestorePlan(ctx, c, 0, time.Time{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(plan))
	for _, fi := range plan {
		keys = append(keys, fmt.Sprintf("%s/%04x/%s-%s.ltx", s.prefix, fi.Level, fi.MinTXID, fi.MaxTXID))
	}
	return keys
}

// TestRestoreStaleAfterFailover: the failover as it happens. Node A ran the
// app and the sidecar (so its only position information is Litestream's
// meta directory; there is no marker); the pod moved to node B, which
// restored and wrote more through its own sidecar. When the pod returns to
// node A, restore finds A's copy behind the replica, moves it aside and
// restores B's rows.
func TestRestoreStaleAfterFailover(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	a := seedReplica(t, m, "backups", "apps/failover", 1)
	a.stopSidecar(t)
	a.app.Close()
	if _, err := os.Stat(filepath.Join(filepath.Dir(a.dbPath), ".app.db-litestream")); err != nil {
		t.Fatalf("node A has no Litestream meta directory: %v", err)
	}

	bPath := filepath.Join(t.TempDir(), "app.db")
	if r := runRestore(t, a.restoreEnv(bPath)); r.Code != 0 {
		t.Fatalf("restore on node B exit %d: %s", r.Code, r.Stderr)
	}
	b := &seeded{m: m, bucket: "backups", prefix: "apps/failover", dbPath: bPath}
	b.app = openApp(t, bPath)
	defer b.app.Close()
	b.side = startSidecar(t, a.restoreEnv(bPath, "SYNC_INTERVAL=100ms"))
	b.side.WaitReady(t, 30*time.Second)
	b.commitBatch(t, 900, 950)
	b.stopSidecar(t)
	want := b.points[len(b.points)-1].Rows

	r := runRestore(t, a.restoreEnv(a.dbPath))
	if r.Code != 0 {
		t.Fatalf("restore on node A exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "STALE LOCAL DATABASE MOVED ASIDE") {
		t.Fatalf("node A's stale copy was not moved aside: %s", r.Stderr)
	}
	if got := rows(t, a.dbPath); !slices.Equal(got, want) {
		t.Fatalf("node A has %d rows after restore, want node B's %d", len(got), len(want))
	}
}
