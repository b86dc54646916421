package e2e_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/faultproxy"
	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreProgressAndOwner: a restore held to about 100 KB/s by a proxy
// in front of MinIO (so it takes seconds on any machine) logs progress
// lines with bytes, MB/s and ETA, and a final line with duration, size and
// position; RESTORE_OWNER's uid:gid owns the database and the marker.
func TestRestoreProgressAndOwner(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	cp := seedBlob(t, m, "apps/slow")
	p := slowProxy(t, m, 100<<10)

	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 4321, 4322 // root can give it away: prove the setting is applied
	}
	dbPath := filepath.Join(t.TempDir(), "app.db")
	env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/apps/slow", "S3_ENDPOINT=http://" + p.Addr(),
		"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey,
		"RESTORE_TIMEOUT=2m", "RESTORE_OWNER=" + strconv.Itoa(uid) + ":" + strconv.Itoa(gid)}
	r := runRestore(t, env)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	assertNoSecret(t, r)
	var progress []string
	var final string
	for _, line := range strings.Split(r.Stderr, "\n") {
		switch {
		case strings.Contains(line, "msg=\"restore in progress\""):
			progress = append(progress, line)
		case strings.Contains(line, "msg=restored"):
			final = line
		}
	}
	// Every progress line has bytes and a rate; an ETA while bytes remain
	// (a line written once all bytes are in, during the check, has none).
	for _, want := range []string{"bytes=", "mb_per_s=", "eta="} {
		if !slices.ContainsFunc(progress, func(l string) bool { return strings.Contains(l, want) }) {
			t.Fatalf("no progress line with %s in a %s restore:\n%s", want, r.Duration, r.Stderr)
		}
	}
	for _, l := range progress {
		if !strings.Contains(l, "bytes=") || !strings.Contains(l, "mb_per_s=") {
			t.Fatalf("progress line without bytes or rate: %s", l)
		}
	}
	for _, want := range []string{"duration=", "bytes=", "txid=" + cp.TXID.String()} {
		if !strings.Contains(final, want) {
			t.Fatalf("final line lacks %s: %q", want, final)
		}
	}
	for _, path := range []string{dbPath, filepath.Join(filepath.Dir(dbPath), ".app.db-sidecar-restore.json")} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if int(sys.Uid) != uid || int(sys.Gid) != gid {
			t.Fatalf("%s owned by %d:%d, want RESTORE_OWNER %d:%d", path, sys.Uid, sys.Gid, uid, gid)
		}
	}
}

// TestRestoreDeadlineDuringDownload: RESTORE_TIMEOUT also bounds the
// download (Litestream's restore phase), not only preflight: a replica
// that answers preflight but then trickles at 20 KB/s ends with 69,
// nothing at DB_PATH, about RESTORE_TIMEOUT after the start.
func TestRestoreDeadlineDuringDownload(t *testing.T) {
	const timeout = 3 * time.Second
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	seedBlob(t, m, "apps/slow")
	p := slowProxy(t, m, 20<<10)
	dbPath := filepath.Join(t.TempDir(), "app.db")
	env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/apps/slow", "S3_ENDPOINT=http://" + p.Addr(),
		"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey,
		"RESTORE_TIMEOUT=" + timeout.String()}
	r := runRestore(t, env)
	assertFailed(t, r, 69, dbPath)
	if !strings.Contains(r.Stderr, "msg=restoring") {
		t.Fatalf("the run ended before the download phase, so it proves nothing: %s", r.Stderr)
	}
	if r.Duration > timeout+10*time.Second {
		t.Fatalf("run took %s, want about RESTORE_TIMEOUT (%s)", r.Duration, timeout)
	}
}

// seedBlob makes a replica under prefix whose latest LTX file holds 600 KB
// of random bytes (which do not compress), and returns its checkpoint.
func seedBlob(t *testing.T, m *testenv.MinIO, prefix string) checkpoint {
	t.Helper()
	s := seedReplica(t, m, "backups", prefix, 0)
	before := s.maxTXID(t)
	if _, err := s.app.Exec(`CREATE TABLE blobs (b BLOB); INSERT INTO blobs VALUES (randomblob(600000))`); err != nil {
		t.Fatal(err)
	}
	cp := s.waitPast(t, before)
	s.stopSidecar(t)
	return cp
}

// slowProxy puts a proxy capped at bytesPerSec in front of m.
func slowProxy(t *testing.T, m *testenv.MinIO, bytesPerSec int64) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(m.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.SetBandwidth(bytesPerSec)
	return p
}
