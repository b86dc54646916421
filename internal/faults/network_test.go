//go:build faults

package faults_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/faultproxy"
	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

const seedRows = 10000 // ~4 MB of incompressible rows

func proxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestRestoreNetworkFaults: restore through a proxy that blackholes, resets,
// delays or throttles. It must obey RESTORE_TIMEOUT with exit 69 and leave
// nothing at DB_PATH, or succeed with exactly the replicated rows.
func TestRestoreNetworkFaults(t *testing.T) {
	e := newEnv(t, "net/restore")
	e.seed(seedRows)
	p := proxy(t, e.m.Addr)
	endpoint := "http://" + p.Addr()
	for _, sc := range []struct {
		name    string
		runs    int // full profile
		ciRuns  int // ci profile: one each; the outcome does not vary by run
		timeout time.Duration
		set     func()
		allow69 bool
		allow0  bool
	}{
		{"restore: blackhole (accepts, never answers)", 3, 1, 5 * time.Second, func() { p.SetMode(faultproxy.Blackhole) }, true, false},
		{"restore: reset every connection after 256 KiB", 3, 1, 15 * time.Second, func() { p.SetMode(faultproxy.Reset); p.SetResetAfter(256 << 10) }, true, true},
		{"restore: 200 ms latency each way", 2, 1, time.Minute, func() { p.SetLatency(200 * time.Millisecond) }, false, true},
		{"restore: bandwidth 1 MB/s", 2, 1, time.Minute, func() { p.SetBandwidth(1 << 20) }, false, true},
	} {
		p.SetMode(faultproxy.Pass)
		p.SetLatency(0)
		p.SetBandwidth(0)
		sc.set()
		failures, codes := 0, []string{}
		for i := range iterations(sc.runs, sc.ciRuns) {
			out := filepath.Join(t.TempDir(), "app.db")
			r := e.restore(out, endpoint, sc.timeout+2*time.Minute, fmt.Sprintf("RESTORE_TIMEOUT=%s", sc.timeout))
			codes = append(codes, fmt.Sprintf("%d in %.1fs", r.Code, r.Duration.Seconds()))
			switch {
			case r.Code == 69 && sc.allow69:
				if exists(out) {
					failures++
					t.Errorf("%s run %d: exit 69 left a file at DB_PATH", sc.name, i)
				}
				if r.Duration > sc.timeout+5*time.Second {
					failures++
					t.Errorf("%s run %d: took %s with RESTORE_TIMEOUT=%s", sc.name, i, r.Duration, sc.timeout)
				}
				if !strings.Contains(lastLine(r.Stderr), "exit 69") {
					failures++
					t.Errorf("%s run %d: no one-line exit 69 message: %s", sc.name, i, r.Stderr)
				}
			case r.Code == 0 && sc.allow0:
				if got, err := seq(out); err != nil || got != seedRows {
					failures++
					t.Errorf("%s run %d: exit 0 but %d rows, %v", sc.name, i, got, err)
				}
			default:
				failures++
				t.Errorf("%s run %d: exit %d: %s", sc.name, i, r.Code, r.Stderr)
			}
		}
		record(sc.name, iterations(sc.runs, sc.ciRuns), failures, "exits: "+strings.Join(codes, ", "))
	}
	e.noSecret()
}

// TestReplicateNetworkFaults: the sidecar ships through a faulty network for
// a while, then the fault lifts; after a clean stop the replica equals the
// local database.
func TestReplicateNetworkFaults(t *testing.T) {
	e := newEnv(t, "net/replicate")
	e.initRestore()
	p := proxy(t, e.m.Addr)
	endpoint := "http://" + p.Addr()
	w := e.startWriter(100)
	// A stall guard of 3 s instead of 30 s keeps the scenario short; the
	// blackhole swallows bytes in flight, so only the guard can end a
	// request caught in it.
	sc, addr := e.startSidecar(endpoint, "SYNC_INTERVAL=200ms", "S3_STALL_TIMEOUT=3s")
	if err := testenv.WaitReady(addr, time.Minute, sc); err != nil {
		t.Fatalf("sidecar not ready: %v: %s", err, sc.Output())
	}
	faults := []struct {
		name string
		set  func()
		// loud: replication stops, so the sidecar must say so on /readyz.
		loud bool
	}{
		{"replicate: blackhole for 10 s", func() { p.SetMode(faultproxy.Blackhole) }, true},
		{"replicate: resets after 4 KiB for 10 s", func() { p.SetMode(faultproxy.Reset); p.SetResetAfter(4 << 10) }, true},
		{"replicate: 200 ms latency for 10 s", func() { p.SetLatency(200 * time.Millisecond) }, false},
		{"replicate: 100 KB/s for 10 s", func() { p.SetBandwidth(100 << 10) }, false},
	}
	// CI: one round of each fault; the full profile repeats them on a
	// sidecar that has already been through the others.
	rounds := iterations(3, 1)
	failures := make([]int, len(faults))
	notes := make([][]string, len(faults))
	for round := range rounds {
		for i, f := range faults {
			f.set()
			unready := false
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
				var v map[string]any
				if code, err := getJSON("http://"+addr+"/readyz", &v); err == nil && code == 503 {
					unready = true
				}
			}
			p.SetMode(faultproxy.Pass)
			p.SetLatency(0)
			p.SetBandwidth(0)
			lifted := time.Now()
			if ok, code := sc.Exited(); ok {
				t.Fatalf("%s: sidecar exited %d: %s", f.name, code, sc.Output())
			}
			if f.loud && !unready {
				failures[i]++
				t.Errorf("%s, round %d: /readyz stayed 200 while nothing could be shipped", f.name, round)
			}
			if err := waitSynced(addr, 2*time.Minute); err != nil {
				failures[i]++
				t.Errorf("%s, round %d: did not catch up after the fault lifted: %v", f.name, round, err)
			}
			notes[i] = append(notes[i], fmt.Sprintf("%t/%.1fs", unready, time.Since(lifted).Seconds()))
		}
	}
	for i, f := range faults {
		record(f.name, rounds, failures[i], "unready during / caught up after: "+strings.Join(notes[i], ", "))
	}
	local := e.stopWriter(w)
	got, f := e.stopAndCompare(sc, local)
	record("replicate: all faults, then clean stop and restore", 1, f, fmt.Sprintf("%d rows == local %d", got, local))
	e.noSecret()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
