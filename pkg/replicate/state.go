package replicate

import (
	"fmt"
	"sync"
	"time"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// Sidecar states, as /status and the logs name them.
const (
	StateStarting    = "starting"
	StateWaitingDB   = "waiting_for_database"
	StateReplicating = "replicating"
	StateStopping    = "stopping"
	StateFailed      = "failed"

	StateWaitingLease    = "waiting_for_lease"
	StateCheckingLineage = "checking_lineage"
	StateLeaseLost       = "lease_lost"
	StateNewHistory      = "starting_new_history"
	// StateBehind: the database is behind the replica (restored before a
	// writer's last sync) or missing while the replica holds a backup; the
	// sidecar replicates nothing and keeps the app's startup gate shut.
	StateBehind = "behind_replica"
)

// state is what the sidecar knows, shared between the run loop, the
// upload hook and the HTTP handlers.
type state struct {
	mu          sync.Mutex
	cfgSync     time.Duration
	dbPath, url string
	name        string
	reason      string
	localTXID   ltx.TXID
	replicaTXID ltx.TXID
	behindSince time.Time // time of the oldest local commit not yet in the replica
	lastSync    time.Time
	lastSyncErr error
	marker      *ltxstate.Marker
	lease       *lease.Lease // nil without a lease
	wasReady    *bool        // readiness at the last readinessChange call
	initialised bool         // the sidecar's own first sync initialised the DB
	// started: the app may start (/startupz). Set once the lineage is
	// checked under the lease, or the replica proven empty under it on a
	// first boot; it stays set for the life of the process.
	started    bool
	progressAt time.Time    // last time the replica advanced or was caught up
	problems   [3]string    // what is wrong with the database file [0], the replica [1], the free space [2]; "" when fine
	space      dbfile.Space // the last free-space check (node.go)
	metrics    *telemetry.Series
}

// wedgeAfter is how long replication may be behind without any progress
// before /healthz reports the sidecar wedged, so the orchestrator restarts
// it. Measured cause: Litestream's own upload can hang on a connection that
// never answers (its S3 client has a 24 h timeout) while holding the sync
// lock, and nothing short of a restart frees it.
func wedgeAfter(syncInterval time.Duration) time.Duration {
	return max(5*time.Minute, 10*syncInterval)
}

// set changes the state name; it reports whether it changed, so that the
// caller logs one line per change, not per tick.
func (s *state) set(name, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := s.name != name || s.reason != reason
	s.name, s.reason = name, reason
	return changed
}

// is reports whether the sidecar is in state name.
func (s *state) is(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name == name
}

// setProblem records what is wrong with "db" (the database file),
// "replica" or "space" ("" for nothing); it reports a change, so the
// caller logs once.
func (s *state) setProblem(what, p string) bool {
	i := map[string]int{"db": 0, "replica": 1, "space": 2}[what]
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := s.problems[i] != p
	s.problems[i] = p
	return changed
}

// markStarted opens the app's startup gate (/startupz) for good.
func (s *state) markStarted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
}

// wrote records an upload's outcome (from observedClient).
func (s *state) wrote(level int, maxTXID ltx.TXID, err error, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastSyncErr = err
		s.metrics.SyncErrors.Inc()
		return
	}
	s.lastSyncErr = nil
	if level == 0 {
		s.lastSync = at
		s.metrics.LastSyncSuccess.Set(float64(at.UnixNano()) / 1e9)
	}
}

// observe records positions and derives the lag: the age of the oldest
// local commit not yet in the replica, in an L0 file or still in the WAL.
// oldest is lagClock's estimate of its time (zero when none is pending, or
// when unknown while behind: then the lag runs from when the sidecar first
// saw the replica behind). It returns the lag (0 when caught up).
func (s *state) observe(local, remote ltx.TXID, oldest, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if remote > s.replicaTXID || local <= remote || s.progressAt.IsZero() {
		s.progressAt = now
	}
	s.localTXID, s.replicaTXID = local, remote
	if local <= remote && oldest.IsZero() {
		s.behindSince = time.Time{}
		s.metrics.ReplicaLag.Set(0)
		return 0
	}
	switch {
	case !oldest.IsZero() && oldest.Before(now):
		s.behindSince = oldest
	case !oldest.IsZero() || s.behindSince.IsZero():
		s.behindSince = now
	}
	lag := now.Sub(s.behindSince)
	s.metrics.ReplicaLag.Set(lag.Seconds())
	return lag
}

// readyLocked decides readiness: replicating, and the last successful
// upload (or being caught up) is recent.
func (s *state) readyLocked(now time.Time) (bool, string) {
	switch s.name {
	case StateReplicating:
	case StateWaitingDB:
		return false, "waiting for " + s.dbPath + " to be created by the app"
	case StateWaitingLease:
		return false, "waiting for the single-writer lease: " + s.reason
	default:
		if s.reason != "" {
			return false, s.reason
		}
		return false, s.name
	}
	if s.lease != nil {
		if err := s.lease.Problem(); err != nil {
			return false, "not holding the single-writer lease, uploads paused: " + err.Error()
		}
	}
	// Before the first sync's own reason: a disk too small for the
	// snapshot is why that sync fails (upstream #1310).
	for _, p := range s.problems {
		if p != "" {
			return false, p
		}
	}
	if !s.initialised {
		if s.reason != "" {
			return false, s.reason
		}
		return false, "first sync to the replica not done yet"
	}
	if s.lastSync.IsZero() && (s.localTXID == 0 || s.localTXID > s.replicaTXID) {
		// Nothing uploaded yet and not known to be caught up.
		if s.reason != "" {
			return false, s.reason
		}
		return false, "first sync to the replica not done yet"
	}
	if s.lease != nil && !s.lease.Valid(now) {
		return false, "single-writer lease not renewed (uploads paused): " + s.reasonOr("renewal failing")
	}
	caughtUp := s.localTXID <= s.replicaTXID
	stale := 3 * s.cfgSync
	if !caughtUp && !s.behindSince.IsZero() && now.Sub(s.behindSince) > stale+uploadAllowance {
		reason := "replica is behind by more than " + (stale + uploadAllowance).String()
		if s.lastSyncErr != nil {
			reason += ": " + s.lastSyncErr.Error()
		}
		return false, reason
	}
	return true, ""
}

func (s *state) reasonOr(def string) string {
	if s.lastSyncErr != nil {
		return s.lastSyncErr.Error()
	}
	return def
}

// readinessChange reports a flip of readiness since the last call, so the
// loop logs one line when the sidecar turns unready (and why) and one when
// it is ready again, not one per tick.
func (s *state) readinessChange(now time.Time) (ready bool, reason string, changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ready, reason = s.readyLocked(now)
	changed = s.wasReady == nil || *s.wasReady != ready
	s.wasReady = &ready
	return ready, reason, changed
}

// uploadAllowance is the upload time /readyz adds to 3 x SYNC_INTERVAL
// (docs/design.md "Endpoints").
const uploadAllowance = 5 * time.Second

func (s *state) status() telemetry.Status {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ready, reason := s.readyLocked(now)
	st := telemetry.Status{
		Ready: ready, Reason: reason, State: s.name, DBPath: s.dbPath, ReplicaURL: s.url,
		Wedged: s.wedgedLocked(now), Started: s.started,
	}
	if s.localTXID != 0 {
		st.LocalTXID = s.localTXID.String()
	}
	if s.replicaTXID != 0 {
		st.ReplicaTXID = s.replicaTXID.String()
	}
	if !s.behindSince.IsZero() {
		st.LagSeconds = now.Sub(s.behindSince).Seconds()
	}
	if !s.lastSync.IsZero() {
		t := s.lastSync.UTC()
		st.LastSyncSuccess = &t
	}
	if s.marker != nil {
		st.Restore = s.marker
	}
	if s.lease != nil {
		holder, until, ours := s.lease.Held()
		st.LeaseHolder = holder
		if !until.IsZero() {
			u := until.UTC()
			st.LeaseExpires = &u
		}
		st.LeaseHeld = ours && s.lease.Valid(now)
	}
	return st
}

// isReady, leaseHeld and behind are what the ready, lease_held and
// behind_replica series read at each scrape (telemetry.Metrics.Observe).
func (s *state) isReady() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ready, _ := s.readyLocked(time.Now())
	return ready
}

func (s *state) behind() bool { return s.is(StateBehind) }

func (s *state) leaseHeld() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lease == nil {
		return false
	}
	_, _, ours := s.lease.Held()
	return ours && s.lease.Valid(time.Now())
}

// clockSkew is the store's clock minus ours in seconds, as the lease's
// requests measured it (0 before the first), for the clock_skew series.
func (s *state) clockSkew() float64 {
	s.mu.Lock()
	l := s.lease
	s.mu.Unlock()
	if l == nil {
		return 0
	}
	sk, _ := l.Skew()
	return sk.Offset.Seconds()
}

// wedgedLocked returns why the sidecar is wedged, "" when it is not:
// initialised, behind the local database, and no replica progress for
// wedgeAfter.
func (s *state) wedgedLocked(now time.Time) string {
	if !s.initialised || s.localTXID <= s.replicaTXID || s.progressAt.IsZero() {
		return ""
	}
	if d := now.Sub(s.progressAt); d > wedgeAfter(s.cfgSync) {
		return fmt.Sprintf("no replication progress for %s while behind (local %s, replica %s)", d.Round(time.Second), s.localTXID, s.replicaTXID)
	}
	return ""
}
