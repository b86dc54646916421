package replicate

import (
	"errors"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
)

// TestReadyLocked: each outcome of the readiness decision (/readyz, the
// ready series; docs/design.md "Endpoints"): ready only when replicating,
// the lease valid, nothing wrong with the file, the replica or the space,
// the first sync done (or the copy known to be in the replica already),
// and the replica no more than 3 x SYNC_INTERVAL + 5 s behind. Each case
// starts from a sidecar that is ready and changes one thing.
//
// A lease stood down for a clock skew (lease.Problem) needs a lease that
// was held, which only a store can give; its reason is the lease's own
// error, checked against the real store in pkg/lease.
func TestReadyLocked(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	now := t0.Add(time.Minute)
	limit := 3*time.Second + uploadAllowance // SYNC_INTERVAL 1 s
	syncErr := errors.New("PUT ltx: connection reset")

	for _, tc := range []struct {
		name       string
		change     func(*state)
		wantReady  bool
		wantReason string
	}{
		{"replicating, caught up", func(*state) {}, true, ""},

		{"waiting for the database", func(s *state) { s.name, s.reason = StateWaitingDB, "ignored" }, false,
			"waiting for /data/app.db to be created by the app"},
		{"waiting for the lease", func(s *state) { s.name, s.reason = StateWaitingLease, "held by other:1" }, false,
			"waiting for the single-writer lease: held by other:1"},
		{"another state, its reason", func(s *state) { s.name, s.reason = StateBehind, "local 3 behind replica 5" }, false,
			"local 3 behind replica 5"},
		{"another state, no reason: its name", func(s *state) { s.name, s.reason = StateCheckingLineage, "" }, false,
			StateCheckingLineage},

		{"a problem with the file", func(s *state) { s.problems[0] = "db replaced" }, false, "db replaced"},
		{"problems: the file's first", func(s *state) { s.problems = [3]string{"db replaced", "replica lost", "disk full"} }, false, "db replaced"},
		{"a problem with the space, before the first sync", func(s *state) { s.problems[2], s.initialised = "disk full", false }, false, "disk full"},

		{"first sync not done", func(s *state) { s.initialised = false }, false, "first sync to the replica not done yet"},
		{"first sync not done, its reason", func(s *state) { s.initialised, s.reason = false, "snapshot uploading" }, false, "snapshot uploading"},
		{"nothing uploaded, local ahead", func(s *state) { s.lastSync, s.localTXID = time.Time{}, 6 }, false,
			"first sync to the replica not done yet"},
		{"nothing uploaded, position unknown", func(s *state) { s.lastSync, s.localTXID, s.replicaTXID = time.Time{}, 0, 0 }, false,
			"first sync to the replica not done yet"},
		{"nothing uploaded, the reason", func(s *state) { s.lastSync, s.localTXID, s.reason = time.Time{}, 6, "sync: 503" }, false, "sync: 503"},
		{"nothing uploaded, already in the replica", func(s *state) { s.lastSync = time.Time{} }, true, ""},

		{"a lease not held", func(s *state) { s.lease = &lease.Lease{} }, false,
			"single-writer lease not renewed (uploads paused): renewal failing"},
		{"a lease not held, the last sync's error", func(s *state) { s.lease, s.lastSyncErr = &lease.Lease{}, syncErr }, false,
			"single-writer lease not renewed (uploads paused): " + syncErr.Error()},

		{"behind, within the limit", func(s *state) { s.localTXID, s.behindSince = 6, now.Add(-limit) }, true, ""},
		{"behind beyond the limit", func(s *state) { s.localTXID, s.behindSince = 6, now.Add(-limit-time.Millisecond) }, false,
			"replica is behind by more than 8s"},
		{"behind beyond the limit, the last sync's error", func(s *state) {
			s.localTXID, s.behindSince, s.lastSyncErr = 6, now.Add(-time.Hour), syncErr
		}, false, "replica is behind by more than 8s: " + syncErr.Error()},
		{"behind since unknown", func(s *state) { s.localTXID = 6 }, true, ""},
		{"caught up long after the last sync", func(s *state) { s.lastSync = t0.Add(-time.Hour) }, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &state{name: StateReplicating, cfgSync: time.Second, dbPath: "/data/app.db", initialised: true,
				lastSync: t0, localTXID: 5, replicaTXID: 5}
			tc.change(s)
			ready, reason := s.readyLocked(now)
			if ready != tc.wantReady || reason != tc.wantReason {
				t.Errorf("readyLocked = %t, %q; want %t, %q", ready, reason, tc.wantReady, tc.wantReason)
			}
		})
	}
}
