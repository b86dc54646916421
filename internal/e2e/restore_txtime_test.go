package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/minio/minio-go/v7"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/engine"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TestTXIDTimeAcrossCompaction: a TXID has one time, when the sidecar
// shipped it (its level-0 file's header stamp), and every report says it:
// `--verify` (text and --json) while the TXID is a level-0 file, after
// Litestream's compaction rewrote it into level 1, and after a snapshot
// took it again and level 0 was retired; the restore's log line and its
// marker too. --timestamp at that time restores that TXID, and a
// millisecond before it the one before.
func TestTXIDTimeAcrossCompaction(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/txtime", 2)
	s.stopSidecar(t)
	tip, prev := s.points[len(s.points)-1].TXID, s.points[len(s.points)-2].TXID
	shipped, prevShipped := s.headerTime(t, 0, tip), s.headerTime(t, 0, prev)
	t.Logf("TXID %s shipped at %s", tip, shipped.Format(ltxstate.TimeFormat))

	flags := []string{"--verify", "--replica-url=s3://backups/apps/txtime", "--s3-endpoint=" + m.Endpoint,
		"--aws-access-key-id=" + testenv.AccessKey, "--aws-secret-access-key=" + testenv.SecretKey}
	// verified checks that --verify --json (at the optional --timestamp)
	// reports TXID want at its shipping time, and the text report too.
	verified := func(stage string, want ltx.TXID, wantAt time.Time, extra ...string) {
		t.Helper()
		r := runRestore(t, nil, append(append(flags, "--json"), extra...)...)
		if r.Code != 0 {
			t.Fatalf("%s: --verify --json exit %d: %s", stage, r.Code, r.Stderr)
		}
		var rep struct {
			TXID     string    `json:"txid"`
			TXIDTime time.Time `json:"txid_time"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("%s: stdout is not one JSON object: %v\n%s", stage, err, r.Stdout)
		}
		if rep.TXID != want.String() || !rep.TXIDTime.Equal(wantAt) {
			t.Errorf("%s: --verify --json reports TXID %s at %s, want TXID %s at %s",
				stage, rep.TXID, rep.TXIDTime.Format(ltxstate.TimeFormat), want, wantAt.Format(ltxstate.TimeFormat))
		}
		r = runRestore(t, nil, append(flags, extra...)...)
		line := fmt.Sprintf("TXID %s at %s", want, wantAt.Format(ltxstate.TimeFormat))
		if r.Code != 0 || !strings.Contains(r.Stdout, line) {
			t.Errorf("%s: --verify (exit %d) does not say %q:\n%s%s", stage, r.Code, line, r.Stdout, r.Stderr)
		}
	}
	// points checks that --timestamp at the time selects that TXID and,
	// while level 0 holds the checkpoint before, that a millisecond before
	// it selects that one.
	points := func(stage string) {
		t.Helper()
		verified(stage+", --timestamp at its time", tip, shipped, "--timestamp="+shipped.Format(time.RFC3339Nano))
		if s.has(t, 0, prev) {
			before := shipped.Add(-time.Millisecond)
			verified(stage+", --timestamp a millisecond before", prev, prevShipped, "--timestamp="+before.Format(time.RFC3339Nano))
		}
	}

	verified("level 0", tip, shipped)
	points("level 0")

	// Litestream's compaction, as the sidecar runs it every 30 s: level 0
	// rewritten into one level-1 file, a new object written later.
	client := s.client(t)
	l1, err := litestream.NewCompactor(client, slog.New(slog.DiscardHandler)).Compact(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if l1.MaxTXID != tip {
		t.Fatalf("compaction wrote %s-%s, want it to end at %s", l1.MinTXID, l1.MaxTXID, tip)
	}
	if keys := s.planKeys(t); !strings.Contains(keys[len(keys)-1], "/0001/") {
		t.Fatalf("the restore plan %v does not end with the level-1 file: the stage would not test the compaction", keys)
	}
	verified("level 1", tip, shipped)
	points("level 1")

	// A snapshot of the same TXID, taken later by the sidecar, then level 0
	// retired as Litestream's L0 retention does after a compaction: the
	// plan is that snapshot alone.
	side := startSidecar(t, append(m.Env(), "DB_PATH="+s.dbPath, "REPLICA_URL=s3://backups/apps/txtime",
		"SYNC_INTERVAL=100ms", "SNAPSHOT_INTERVAL=1s", "LEASE=false"))
	side.WaitReady(t, 30*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for !s.has(t, litestream.SnapshotLevel, tip) {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot of TXID %s within 60 s with SNAPSHOT_INTERVAL=1s: %s", tip, side.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := side.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("replicate exit %d after SIGTERM: %s", code, side.Output())
	}
	if got := s.maxTXID(t); got != tip {
		t.Fatalf("the sidecar moved the replica on to %s: the stage would not be about TXID %s", got, tip)
	}
	s.removeLevel(t, 0)
	if keys := s.planKeys(t); len(keys) != 1 || !strings.Contains(keys[0], "/0009/") {
		t.Fatalf("the restore plan is %v, want the snapshot alone", keys)
	}
	verified("snapshot", tip, shipped)
	points("snapshot")
	// A --timestamp before everything: the span it names ends at the same time.
	r := runRestore(t, nil, append(flags, "--timestamp=2001-01-01T00:00:00Z")...)
	if want := fmt.Sprintf("to %s (txid %s)", shipped.Format(ltxstate.TimeFormat), tip); r.Code != 65 || !strings.Contains(r.Stderr, want) {
		t.Errorf("a --timestamp before the oldest backup: exit %d, want 65 and the span ending %q: %s", r.Code, want, r.Stderr)
	}
	t.Logf("out of range: %s", lastLine(r.Stderr))

	// The restore's own report: its log line and its marker, which the
	// sidecar's /status shows.
	dbPath := filepath.Join(t.TempDir(), "app.db")
	r = runRestore(t, s.restoreEnv(dbPath))
	if r.Code != 0 {
		t.Fatalf("restore exit %d: %s", r.Code, r.Stderr)
	}
	if want := "position_time=" + shipped.Format(ltxstate.TimeFormat); !strings.Contains(r.Stderr, want) {
		t.Errorf("the restore's log does not say %s: %s", want, r.Stderr)
	}
	t.Logf("restored: %s", lastLine(r.Stderr))
	if mk := readMarker(t, dbPath); ltx.TXID(mk.TXID) != tip || !mk.PositionTime.Equal(shipped) {
		t.Errorf("marker: TXID %d at %s, want %s at %s", mk.TXID, mk.PositionTime.Format(ltxstate.TimeFormat), tip, shipped.Format(ltxstate.TimeFormat))
	}
}

// object is the key of the LTX file of level ending at txid, "" when
// there is none.
func (s *seeded) object(t *testing.T, level int, txid ltx.TXID) string {
	t.Helper()
	for _, obj := range s.ltxObjects(t) {
		m := ltxName.FindStringSubmatch(obj.Key)
		if m[1] == fmt.Sprintf("%04x", level) && m[3] == txid.String() {
			return obj.Key
		}
	}
	return ""
}

func (s *seeded) has(t *testing.T, level int, txid ltx.TXID) bool {
	t.Helper()
	return s.object(t, level, txid) != ""
}

// headerTime is the header stamp of the file of level ending at txid, read
// straight from the bucket.
func (s *seeded) headerTime(t *testing.T, level int, txid ltx.TXID) time.Time {
	t.Helper()
	key := s.object(t, level, txid)
	if key == "" {
		t.Fatalf("no file of level %d ends at %s", level, txid)
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(0, ltx.HeaderSize-1); err != nil {
		t.Fatal(err)
	}
	obj, err := s.m.Client().GetObject(context.Background(), s.bucket, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	dec := ltx.NewDecoder(obj)
	if err := dec.DecodeHeader(); err != nil {
		t.Fatalf("header of %s: %v", key, err)
	}
	return time.UnixMilli(dec.Header().Timestamp).UTC()
}

// removeLevel deletes every file of level.
func (s *seeded) removeLevel(t *testing.T, level int) {
	t.Helper()
	for _, obj := range s.ltxObjects(t) {
		if ltxName.FindStringSubmatch(obj.Key)[1] == fmt.Sprintf("%04x", level) {
			if err := s.m.Client().RemoveObject(context.Background(), s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// client is Litestream's replica client of s, as the sidecar builds it.
func (s *seeded) client(t *testing.T) litestream.ReplicaClient {
	t.Helper()
	cfg := &config.Config{ReplicaURL: "s3://" + s.bucket + "/" + s.prefix, S3Endpoint: s.m.Endpoint, S3Region: "us-east-1",
		AccessKeyID: testenv.AccessKey, SecretAccessKey: testenv.SecretKey}
	c := engine.NewClient(cfg, slog.New(slog.DiscardHandler))
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}
