//go:build faults

package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// The object store itself fails: MinIO restarts, the replica prefix is
// wiped, MinIO loses all its data. Defined behaviour (docs/design.md
// "Replica lost"): a restart is an outage (unready, then caught up, no new
// history); a loss is loud (an ERROR line, replica_lost_total, /readyz
// 503) and answered by a new history that starts with a full snapshot, so
// that a restore afterwards holds every row — never a replica that
// silently cannot be restored.

// metric reads one unlabelled series from a sidecar's /metrics.
func metric(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /metrics", name)
}

const lostMetric = "litestream_sidecar_replica_lost_total"

// wipePrefix deletes every object under the scenario's prefix.
func (e *env) wipePrefix() int {
	e.t.Helper()
	ctx := context.Background()
	c := e.m.Client()
	prefix := strings.TrimPrefix(e.url, "s3://faults/") + "/"
	objs := make(chan minio.ObjectInfo)
	n := 0
	go func() {
		defer close(objs)
		for o := range c.ListObjects(ctx, "faults", minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			n++
			objs <- o
		}
	}()
	for r := range c.RemoveObjects(ctx, "faults", objs, minio.RemoveObjectsOptions{}) {
		e.t.Fatalf("remove %s: %v", r.ObjectName, r.Err)
	}
	return n
}

// waitMetric polls until the metric reaches want.
func waitMetric(addr, name string, want float64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last float64
	for time.Now().Before(deadline) {
		if v, err := metric(addr, name); err == nil {
			if last = v; v >= want {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s stayed at %v, want %v within %s", name, last, want, timeout)
}

// restoreNow restores the prefix as it is (the sidecar keeps running) and
// returns the rows, which must be a valid 1..N.
func (e *env) restoreNow() (int64, error) {
	out := filepath.Join(e.t.TempDir(), "now.db")
	r := e.verifyTo(out)
	if r.Code != 0 {
		return 0, fmt.Errorf("restore exit %d: %s", r.Code, lastLine(r.Stderr))
	}
	return seq(out)
}

// TestStoreFaults runs the three store failures against one sidecar.
func TestStoreFaults(t *testing.T) {
	e := newEnv(t, "store/faults")
	w, sc, addr := e.boot(100, "SYNC_INTERVAL=200ms")
	e.mustReady(sc, addr)
	alive := func(what string) {
		if ok, code := sc.Exited(); ok {
			t.Fatalf("%s: sidecar exited %d: %s", what, code, sc.Output())
		}
	}
	// caughtUp: synced, and a restore taken now holds at least every row
	// committed before the call.
	caughtUp := func(what string) (string, bool) {
		k := lastCommitted(w.Output())
		if err := waitSynced(addr, 2*time.Minute); err != nil {
			t.Errorf("%s: %v", what, err)
			return err.Error(), false
		}
		got, err := e.restoreNow()
		if err != nil || got < k {
			t.Errorf("%s: restore now: %d rows (committed before: %d), %v\n%s", what, got, k, err, e.listing())
			return fmt.Sprintf("restore %d < %d", got, k), false
		}
		return fmt.Sprintf("%d≥%d", got, k), true
	}
	lost := 0.0

	runs, failures, notes := iterations(3, 2), 0, []string{}
	for i := range runs {
		e.m.Stop()
		time.Sleep(8 * time.Second)
		if err := e.m.Start(); err != nil {
			t.Fatal(err)
		}
		alive("MinIO restart")
		note, ok := caughtUp(fmt.Sprintf("MinIO restart %d", i))
		if !ok {
			failures++
		}
		if v, _ := metric(addr, lostMetric); v != lost {
			failures++
			t.Errorf("MinIO restart %d: %s = %v: an outage was taken for a loss", i, lostMetric, v)
		}
		notes = append(notes, note)
	}
	record("store: MinIO stopped 8 s, restarted", runs, failures, "restore after: "+strings.Join(notes, ", "))

	// Each wipe takes about 50 s to detect and catch up: CI wipes once,
	// and the data loss below is then the second loss this sidecar meets.
	runs, failures, notes = iterations(3, 1), 0, []string{}
	for i := range runs {
		n := e.wipePrefix()
		lost++
		start := time.Now()
		if err := waitMetric(addr, lostMetric, lost, time.Minute); err != nil {
			failures++
			t.Errorf("wipe %d (%d objects): not detected: %v\n%s", i, n, err, e.listing())
			break
		}
		detected := time.Since(start)
		alive("wipe")
		note, ok := caughtUp(fmt.Sprintf("wipe %d", i))
		if !ok {
			failures++
		}
		notes = append(notes, fmt.Sprintf("detected %.1fs, %s", detected.Seconds(), note))
	}
	if !strings.Contains(sc.Output(), "replica history lost") {
		failures++
		t.Errorf("no ERROR line for the lost history in the sidecar's log")
	}
	record("store: replica prefix wiped under the sidecar", runs, failures, strings.Join(notes, "; "))

	// About 75 s each: CI loses the data once.
	runs, failures, notes = iterations(2, 1), 0, []string{}
	for i := range runs {
		e.m.Stop()
		if err := os.RemoveAll(e.m.DataDir); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Start(); err != nil {
			t.Fatal(err)
		}
		// The bucket is gone: the sidecar must say so, not pretend.
		var reason string
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			var v map[string]any
			if code, err := getJSON("http://"+addr+"/readyz", &v); err == nil && code == 503 {
				reason = fmt.Sprint(v["reason"])
				if strings.Contains(reason, "bucket") {
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(reason, "bucket") {
			failures++
			t.Errorf("data loss %d: /readyz never named the missing bucket (last reason %q)", i, reason)
		}
		if err := e.m.MakeBucket(context.Background(), "faults"); err != nil {
			t.Fatal(err)
		}
		lost++
		if err := waitMetric(addr, lostMetric, lost, time.Minute); err != nil {
			failures++
			t.Errorf("data loss %d: not detected after the bucket came back: %v", i, err)
			break
		}
		alive("data loss")
		note, ok := caughtUp(fmt.Sprintf("data loss %d", i))
		if !ok {
			failures++
		}
		notes = append(notes, note)
	}
	record("store: MinIO lost all data, bucket recreated", runs, failures, "restore after: "+strings.Join(notes, ", "))

	local := e.stopWriter(w)
	got, f := e.stopAndCompare(sc, local)
	record("store: all of the above, then clean stop and restore", 1, f, fmt.Sprintf("%d rows == local %d", got, local))
	e.noSecret()
}
