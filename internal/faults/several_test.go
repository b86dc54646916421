//go:build faults

package faults_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestCrashSidecarKillSeveral is TestCrashSidecarKill with one sidecar
// serving two databases (DB_PATH lists them), each written by its own app:
// the sidecar is SIGKILLed at random moments and restarted. Every few
// iterations a restore of both (sidecar down) must give each database
// exactly 1..N with N at least its last commit proven synced and never
// fewer than an earlier restore; after a clean SIGTERM the replica of each
// equals its local database.
func TestCrashSidecarKillSeveral(t *testing.T) {
	e := newEnv(t, "crash/several")
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "app.db"), filepath.Join(dir, "logs.db")}
	e.dbPath = strings.Join(paths, ",")
	e.initRestore()
	writers := make([]*testenv.Process, len(paths))
	for i, p := range paths {
		writers[i] = e.startWriterAt(p, 100)
	}
	sc, addr := e.startSidecar(e.m.Endpoint, "SYNC_INTERVAL=100ms")

	// CI: 20 kills, 2 mid-way restores of both databases.
	n := iterations(40, 20)
	failures, restores, midHistory := 0, 0, 0
	acked, maxSeen := make([]int64, len(paths)), make([]int64, len(paths))
	for i := range n {
		if i%2 == 0 {
			var k []int64
			for _, w := range writers {
				k = append(k, lastCommitted(w.Output()))
			}
			if err := waitSyncedAll(addr, len(paths), time.Minute); err != nil {
				if ok, code := sc.Exited(); ok {
					t.Fatalf("iteration %d: the sidecar exited %d: %s", i, code, tail(sc.Output(), 3000))
				}
				failures++
				t.Errorf("iteration %d: %v; sidecar: %.500s", i, err, sc.Output())
			} else {
				for d := range paths {
					acked[d] = max(acked[d], k[d])
				}
			}
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		sc.Kill()
		e.saw(sc.Output())
		if i%10 == 9 {
			restores++
			out := filepath.Join(t.TempDir(), "mid") // a new directory: --output with several
			r := e.verifyTo(out)
			switch {
			case refusedMidHistory(r):
				midHistory++
			case r.Code != 0:
				failures++
				t.Errorf("iteration %d: restore exit %d: %s", i, r.Code, r.Stderr)
			default:
				for d, p := range paths {
					got, err := seq(filepath.Join(out, filepath.Base(p)))
					switch {
					case err != nil:
						failures++
						t.Errorf("iteration %d: restored %s: %v", i, filepath.Base(p), err)
					case got < acked[d]:
						failures++
						t.Errorf("iteration %d: restored %d rows of %s, but %d were proven synced", i, got, filepath.Base(p), acked[d])
					case got < maxSeen[d]:
						failures++
						t.Errorf("iteration %d: restored %d rows of %s, an earlier restore had %d", i, got, filepath.Base(p), maxSeen[d])
					}
					maxSeen[d] = max(maxSeen[d], got)
				}
			}
		}
		sc, addr = e.startSidecar(e.m.Endpoint, "SYNC_INTERVAL=100ms")
	}
	if tooManyRefused(midHistory, restores) {
		failures++
		t.Errorf("%d of %d mid-way restores refused (killed mid new history): more than half proves nothing", midHistory, restores)
	}
	local := make([]int64, len(paths))
	for d, p := range paths {
		local[d] = e.stopWriterAt(writers[d], p)
	}
	if err := testenv.WaitReady(addr, time.Minute, sc); err != nil {
		t.Errorf("sidecar not ready before the final stop: %v", err)
	}
	if code, err := sc.Signal(syscall.SIGTERM, time.Minute); err != nil || code != 0 {
		failures++
		t.Errorf("final SIGTERM: exit %d, %v: %.500s", code, err, sc.Output())
	}
	final := t.TempDir()
	var fresh []string
	for _, p := range paths {
		fresh = append(fresh, filepath.Join(final, filepath.Base(p)))
	}
	r := e.restore(strings.Join(fresh, ","), e.m.Endpoint, 2*time.Minute)
	var got []int64
	for d, p := range fresh {
		g, err := seq(p)
		if r.Code != 0 || err != nil || g != local[d] {
			failures++
			t.Errorf("final restore of %s: exit %d, %v, %d rows, local has %d", filepath.Base(p), r.Code, err, g, local[d])
		}
		got = append(got, g)
	}
	e.noSecret()
	record("crash: sidecar SIGKILL, two databases", n, failures,
		fmt.Sprintf("%d mid-way restores (%d refused); acked %v; final %v rows == local %v", restores, midHistory, acked, got, local))
}

// waitSyncedAll is waitSynced for a sidecar serving several databases:
// nil once every database's replica holds every commit made before the
// call (its TXID two past the local TXID first seen, as waitSynced says).
func waitSyncedAll(addr string, dbs int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	l1 := make([]uint64, dbs)
	for time.Now().Before(deadline) {
		st, _, err := testenv.ReadStatus(addr)
		if err == nil && len(st.Databases) == dbs {
			done := true
			for d, s := range st.Databases {
				if l1[d] == 0 {
					l1[d] = txid(s.LocalTXID)
					done = false
				} else if txid(s.ReplicaTXID) < l1[d]+2 {
					done = false
				}
			}
			if done {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the replicas did not reach local TXIDs %v + 2 within %s", l1, timeout)
}
