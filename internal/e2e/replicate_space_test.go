package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestSidecarSpaceWarning (upstream #1310: the first sync stages a full
// copy of the database locally and, short of space, hung with nothing
// logged): the sidecar runs on a 12 MiB tmpfs, in a mount namespace of its
// own, holding a 3.3 MiB database and an 8 MiB filler, so a snapshot does
// not fit. It must say so: unready with a reason naming both figures, the
// two series, one ERROR line naming both. Once the filler is removed it
// recovers, replicates, and a restore holds every row.
func TestSidecarSpaceWarning(t *testing.T) {
	needsPrivateMount(t)
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	src := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, src)
	for i := range 100 { // 100 × 32 KiB of hex: about 3.3 MiB, half of it entropy
		b := make([]byte, 16<<10)
		rand.Read(b)
		if err := testenv.Insert(app, i+1, hex.EncodeToString(b)); err != nil {
			t.Fatal(err)
		}
	}
	app.Close()

	const url = "s3://backups/apps/space"
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	bin := filepath.Join(testenv.Binaries(t), "replicate")
	env := append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms", "METRICS_ADDR="+testenv.FreeAddr(t))
	// unshare and sh exec: the sidecar keeps the pid, and its signals.
	s := &sidecar{testenv.StartSidecar(t, "unshare", env, "--mount", "--propagation", "private", "--", "sh", "-c",
		`mount -t tmpfs -o size=12m tmpfs "$1" && cp "$2" "$1/app.db" && dd if=/dev/zero of="$1/filler" bs=1M count=8 2>/dev/null || exit 99; exec "$3"`,
		"sh", dir, src, bin)}

	short := func(st telemetry.Status) bool {
		return !st.Ready && strings.Contains(st.Reason, "not enough free space to stage a snapshot")
	}
	st := s.waitFor(t, 30*time.Second, "unready for the free space", short)
	for _, want := range []string{"the filesystem of DB_PATH (" + dir + ") has ", " KiB free", "a snapshot needs 4.", " MiB ("} {
		if !strings.Contains(st.Reason, want) {
			t.Fatalf("the reason lacks %q: %s", want, st.Reason)
		}
	}
	if code, body := s.Get("/readyz"); code != 503 || !strings.Contains(body, "not enough free space") {
		t.Fatalf("/readyz = %d %s, want 503 naming the free space", code, body)
	}
	free, need := metricValue(t, s, "litestream_sidecar_free_space_bytes"), metricValue(t, s, "litestream_sidecar_snapshot_space_needed_bytes")
	if free <= 0 || free >= 1<<20 || need < 4<<20 || need > 5<<20 {
		t.Fatalf("free_space_bytes %v, snapshot_space_needed_bytes %v; want under 1 MiB free and about 4.3 MiB needed", free, need)
	}
	wantLine(t, s.Output(), "not enough free space to stage a snapshot", "free_bytes=", "needed_bytes=", "dir="+dir)

	// Room again: the filler goes, seen through the sidecar's own mounts.
	if err := os.Remove(filepath.Join("/proc", strconv.Itoa(s.Pid()), "root", dir, "filler")); err != nil {
		t.Fatal(err)
	}
	s.WaitReady(t, 30*time.Second)
	s.waitFor(t, 30*time.Second, "caught up", func(st telemetry.Status) bool {
		return st.LocalTXID != "" && st.LocalTXID == st.ReplicaTXID
	})
	if free, need := metricValue(t, s, "litestream_sidecar_free_space_bytes"), metricValue(t, s, "litestream_sidecar_snapshot_space_needed_bytes"); free < need {
		t.Fatalf("free_space_bytes %v below snapshot_space_needed_bytes %v after the filler went", free, need)
	}
	wantLine(t, s.Output(), "free space back")
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, s.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); len(got) != 100 {
		t.Fatalf("restored %d rows, want 100", len(got))
	}
}
