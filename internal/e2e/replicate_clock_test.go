package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestClockSkewLease: in front of the real MinIO, a proxy shifts the Date
// of every response, as a node whose clock is off the store's would see
// it. Lease expiry compares different nodes' clocks, so beyond the lease's
// margin the sidecar must neither take nor keep the lease:
//
//   - store 30 s ahead at start: unready naming the skew, the gauge at
//     about 30, an ERROR line naming the skew and the store, no lease
//     object and nothing written;
//   - clock right again: the lease is taken and the database replicated;
//   - store 30 s behind while holding: unready naming the skew, the lease
//     object marked expired, uploads paused while the app commits;
//   - clock right again: the lease taken back, everything replicated, a
//     clean stop and a restore with every row.
func TestClockSkewLease(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	var shift atomic.Int64 // added to every Date, in nanoseconds
	shift.Store(int64(30 * time.Second))
	px := storeProxy(t, m, func(w http.ResponseWriter, r *http.Request, pass http.Handler) {
		pass.ServeHTTP(&shiftedDate{ResponseWriter: w, shift: time.Duration(shift.Load())}, r)
	})
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 20)
	const url, prefix = "s3://backups/apps/skew", "apps/skew/"
	s := startSidecar(t, []string{"DB_PATH=" + dbPath, "REPLICA_URL=" + url, "S3_ENDPOINT=" + px.URL, "SYNC_INTERVAL=200ms",
		"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey})

	// Skewed at start: the lease is not taken.
	skewed := func(st telemetry.Status) bool { return !st.Ready && strings.Contains(st.Reason, "clock skew") }
	s.waitFor(t, 30*time.Second, "unready for the clock skew", skewed)
	time.Sleep(3 * time.Second) // a retry or more of the acquisition
	st := s.waitFor(t, time.Second, "still unready for the clock skew", skewed)
	for _, want := range []string{"behind the object store's at " + px.URL, "fix the node's time sync"} {
		if !strings.Contains(st.Reason, want) {
			t.Fatalf("the reason lacks %q: %s", want, st.Reason)
		}
	}
	if code, body := s.Get("/readyz"); code != 503 || !strings.Contains(body, "clock skew") {
		t.Fatalf("/readyz = %d %s, want 503 naming the clock skew", code, body)
	}
	if v := metricValue(t, s, "litestream_sidecar_clock_skew_seconds"); math.Abs(v-30) > 1 {
		t.Fatalf("clock_skew_seconds = %v with the store 30 s ahead", v)
	}
	if st.LeaseHeld || metricValue(t, s, "litestream_sidecar_lease_held") != 0 {
		t.Fatalf("lease held with a skewed clock: %+v", st)
	}
	if keys := objects(t, m, "backups", prefix); len(keys) != 0 {
		t.Fatalf("a skewed sidecar wrote to the replica: %v", keys)
	}
	wantLine(t, s.Output(), "clock skew: not taking the single-writer lease", "s behind the object store's at "+px.URL, "store="+px.URL)

	// The clock right: the lease is taken and the database replicated.
	shift.Store(0)
	s.WaitReady(t, 30*time.Second)
	st = s.waitFor(t, 30*time.Second, "caught up", func(st telemetry.Status) bool {
		return st.LeaseHeld && st.LocalTXID != "" && st.LocalTXID == st.ReplicaTXID
	})
	if v := metricValue(t, s, "litestream_sidecar_clock_skew_seconds"); math.Abs(v) > 1 {
		t.Fatalf("clock_skew_seconds = %v with the clocks agreeing", v)
	}

	// Skewed while holding it (this node ahead now): the lease stands down.
	shift.Store(int64(-30 * time.Second))
	st = s.waitFor(t, 30*time.Second, "unready for the clock skew while holding the lease", skewed)
	if !strings.Contains(st.Reason, "ahead of the object store's") || st.LeaseHeld {
		t.Fatalf("standing down: %+v", st)
	}
	if doc := leaseDoc(t, m, "backups", prefix+"lock.json"); !doc.ExpiresAt.IsZero() {
		t.Fatalf("the stood-down lease object expires at %s, want the zero time (expired by every clock)", doc.ExpiresAt)
	}
	if v := metricValue(t, s, "litestream_sidecar_clock_skew_seconds"); math.Abs(v+30) > 1 {
		t.Fatalf("clock_skew_seconds = %v with the store 30 s behind", v)
	}
	before := replicaFiles(t, m, prefix)
	insertRows(t, app, 21, 40)
	time.Sleep(3 * time.Second) // 15 sync intervals
	if after := replicaFiles(t, m, prefix); !slices.Equal(before, after) {
		t.Fatalf("uploads went on with a skewed clock:\nbefore %v\nafter  %v", before, after)
	}
	wantLine(t, s.Output(), "clock skew: not keeping the single-writer lease", "skew=-", "s ahead of the object store's at "+px.URL, "store="+px.URL)

	// The clock right again: the lease taken back, the commits shipped.
	shift.Store(0)
	s.WaitReady(t, 30*time.Second)
	s.waitFor(t, 30*time.Second, "caught up again", func(st telemetry.Status) bool {
		return st.LeaseHeld && st.LocalTXID != "" && st.LocalTXID == st.ReplicaTXID
	})
	wantLine(t, s.Output(), "lease taken back")
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, s.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); len(got) != 40 {
		t.Fatalf("restored %d rows, want 40", len(got))
	}
}

// shiftedDate moves the Date header of a response by shift.
type shiftedDate struct {
	http.ResponseWriter
	shift time.Duration
}

func (w *shiftedDate) WriteHeader(code int) {
	if d, err := http.ParseTime(w.Header().Get("Date")); err == nil {
		w.Header().Set("Date", d.Add(w.shift).UTC().Format(http.TimeFormat))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *shiftedDate) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wantLine fails t unless one line of out holds every part of want.
func wantLine(t *testing.T, out string, want ...string) {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(line, w) }) {
			return
		}
	}
	t.Fatalf("no line holds all of %q:\n%s", want, out)
}

// replicaFiles lists the replica's LTX files under prefix (the lease
// object aside), sorted.
func replicaFiles(t *testing.T, m *testenv.MinIO, prefix string) []string {
	t.Helper()
	keys := slices.DeleteFunc(objects(t, m, "backups", prefix), func(k string) bool { return strings.HasSuffix(k, "/lock.json") })
	slices.Sort(keys)
	return keys
}

// leaseDoc reads a lease object as Litestream's JSON.
func leaseDoc(t *testing.T, m *testenv.MinIO, bucket, key string) (doc struct {
	ExpiresAt time.Time `json:"expires_at"`
	Owner     string    `json:"owner"`
}) {
	t.Helper()
	obj, err := m.Client().GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("lease object %s: %v: %s", key, err, b)
	}
	return doc
}
