//go:build faults

package faults_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/faultproxy"
	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestPartitionedHolder builds the split brain a lease cannot prevent on
// its own: the lease holder's node is cut off from MinIO while its app
// keeps writing (Litestream keeps numbering local transactions), the
// orchestrator starts the app again elsewhere, and that copy restores,
// takes the expired lease and replicates. When the old node comes back its
// sidecar loses the lease (exit 75); restarted, its local position is
// ahead of the replica's by number but holds another history. It must be
// refused (exit 65), and the replica must stay the new copy's.
func TestPartitionedHolder(t *testing.T) {
	// Each run is about a minute, most of it the 40 s partition the lease
	// needs to expire: CI runs one.
	n := iterations(2, 1)
	failures := 0
	var notes []string
	for i := range n {
		f, note := partitionedHolder(t, fmt.Sprintf("two/partitioned-%d", i))
		failures += f
		notes = append(notes, note)
	}
	record("two writers: partitioned holder, rescheduled copy takes over", n, failures, strings.Join(notes, "; "))
}

func partitionedHolder(t *testing.T, prefix string) (int, string) {
	e := newEnv(t, prefix)
	e.seed(2000)
	a, b := e.newPod("a"), e.newPod("b")
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(prefix+": "+format, args...)
	}
	failures := 0

	if r := a.reschedule(time.Minute); r.Code != 0 {
		t.Fatalf("restore a: exit %d: %s", r.Code, r.Stderr)
	}
	a.startWriter(100)
	a.startSidecar()
	_, addrA := a.sidecar()
	if err := waitSynced(addrA, time.Minute); err != nil {
		t.Fatalf("a not replicating: %v", err)
	}

	// A's node loses the network; its app and sidecar go on locally.
	a.px.SetMode(faultproxy.Blackhole)
	cut := time.Now()
	sA, _ := a.st()
	for time.Since(cut) < 40*time.Second {
		time.Sleep(time.Second)
	}
	if a.held() {
		failures++
		fail("a still says it holds the lease 40 s into the partition")
	}
	localA, _ := a.st()

	// The orchestrator starts the app again on B's node.
	if r := b.reschedule(time.Minute); r.Code != 0 {
		t.Fatalf("restore b: exit %d: %s", r.Code, r.Stderr)
	}
	b.startWriter(100)
	b.startSidecar()
	scB, addrB := b.sidecar()
	if err := waitSynced(addrB, time.Minute); err != nil {
		failures++
		fail("b did not take over: %v: %.800s", err, scB.Output())
	}
	// B stops cleanly after a short while, so that the replica's position
	// stays below A's local one.
	time.Sleep(time.Second)
	rowsB := b.stopWriter()
	if code, err := scB.Signal(syscall.SIGTERM, time.Minute); err != nil || code != 0 {
		failures++
		fail("b's SIGTERM: exit %d, %v", code, err)
	}

	// A's node comes back: its renewal finds the lease taken.
	a.px.SetMode(faultproxy.Pass)
	scA, _ := a.sidecar()
	if c, err := scA.Wait(time.Minute); err != nil || c != 75 {
		failures++
		fail("a after the partition: exit %d (%v), want 75 (lease lost): %.800s", c, err, tail(scA.Output(), 800))
	}
	// Restarted by its orchestrator, A must refuse: its local state is
	// ahead by number but is not the replica's history.
	a.startSidecar()
	scA, _ = a.sidecar()
	c, err := scA.Wait(90 * time.Second)
	refused := strings.Contains(scA.Output(), "lineage conflict")
	if err != nil || c != 65 || !refused {
		failures++
		fail("a restarted: exit %d (%v), want 65 (lineage conflict): %s", c, err, tail(scA.Output(), 1500))
	}
	a.stopWriter()
	a.stop()

	// A's copy restarts on its own volume (a persistent one): the init
	// step must not keep the diverged database, which is "ahead" by number.
	r0 := e.restore(a.db, a.endpoint(), 2*time.Minute)
	movedAside := strings.Contains(r0.Stderr, "MOVED ASIDE")
	rowsA, errA := seq(a.db)
	if r0.Code != 0 || !movedAside || errA != nil || rowsA != b.rows() {
		failures++
		fail("restore on a's volume: exit %d, moved aside %t, %d rows (%v), b has %d: %s", r0.Code, movedAside, rowsA, errA, b.rows(), tail(r0.Stderr, 1500))
	}
	a.startSidecar()
	scA, addrA = a.sidecar()
	if err := testenv.WaitReady(addrA, 90*time.Second, scA); err != nil {
		failures++
		fail("a after its restore: %v: %s", err, tail(scA.Output(), 1500))
	} else if code, err := scA.Signal(syscall.SIGTERM, time.Minute); err != nil || code != 0 {
		failures++
		fail("a's SIGTERM after its restore: exit %d, %v", code, err)
	}

	out := filepath.Join(t.TempDir(), "final.db")
	r := e.restore(out, e.m.Endpoint, 2*time.Minute)
	got, err := seq(out)
	local, lerr := seq(b.db)
	if r.Code != 0 || err != nil || lerr != nil || got != local || got < rowsB {
		failures++
		fail("restore after the split brain: exit %d, %v, %d rows; b's local %d (%v), b acked %d\n%s\n%s", r.Code, err, got, local, lerr, rowsB, r.Stderr, e.listing())
	}
	e.noSecret()
	return failures, fmt.Sprintf("a's local TXID %s at the cut, %s after 40 s; a refused: %t; a's volume restored (moved aside: %t); final %d rows == b's %d",
		sA.LocalTXID, localA.LocalTXID, refused, movedAside, got, local)
}

// holder is the index of the pod whose sidecar says it holds the lease,
// -1 when none does.
func holder(pods []*pod) int {
	for i, p := range pods {
		if p.held() {
			return i
		}
	}
	return -1
}
