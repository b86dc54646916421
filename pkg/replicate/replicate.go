// Package replicate is sidecar mode: wait for the app's database, replicate
// it continuously through the Litestream library, report through
// pkg/telemetry, and on SIGTERM sync what the app committed before exiting
// (DESIGN.md "Sidecar mode: the guarantees").
//
// The start is a sequence, each step visible in /readyz and logged once:
//
//  1. waiting_for_database: DB_PATH does not exist yet (the app creates it).
//  2. waiting_for_lease: with LEASE=true and an s3:// replica, the sidecar
//     takes the single-writer lease <prefix>/lock.json with conditional
//     PUTs (If-None-Match: * to create, If-Match: <etag> to renew). While
//     another writer holds an unexpired lease, the sidecar WAITS (unready,
//     lease_held 0, retrying every 2 s) and writes nothing; a lease left by
//     a crashed writer runs out after 30 s, and one left by a crashed sidecar
//     on this same volume is taken back at once (lease_id.go). A SIGTERM
//     while waiting exits 75.
//     The lease is renewed every 10 s; uploads stop 5 s before it would run
//     out unrenewed (e.g. during an outage) and resume when a renewal
//     succeeds. If the lease object was taken by another writer, the sidecar
//     stops replicating, turns unready and exits 75 (the orchestrator
//     restarts it, and it waits for the lease again).
//  3. checking_lineage: the lineage guard (lineage.go). When the replica
//     holds data, the local database must descend from it: Litestream's
//     local state (.<name>-litestream/) holds the very L0 file that brought
//     the replica to its position (a restart of this sidecar), or the
//     restore marker written by `restore` names this REPLICA_URL at exactly
//     the replica's position and file. Otherwise the sidecar exits 65
//     without writing a byte: an empty, unrelated or diverged database
//     never overwrites the backup.
//     Then the WAL-continuity check (pkg/replica): if the app checkpointed
//     while the sidecar was down, the replica's history is moved aside and
//     the first sync is a full snapshot.
//  4. replicating, until SIGTERM: a final sync within SHUTDOWN_TIMEOUT,
//     the lease released, exit 0. Meanwhile the replica watcher (watch.go)
//     checks every 10 s that the replica still holds our newest snapshot;
//     when it does not (a wiped prefix, a store that lost its data) the
//     sidecar starts a new history with a full snapshot (newHistory) and
//     runs steps 1-3 again.
package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/replica"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// pollInterval is how often the sidecar looks for the database file and
// refreshes positions for /status and the lag metric.
const pollInterval = 250 * time.Millisecond

// errStopped: a signal (or ctx) ended a wait before replication started.
var errStopped = errors.New("stopped")

// Run is sidecar mode. It returns nil after a clean stop: a signal on
// signals, then a final sync within SHUTDOWN_TIMEOUT.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger, signals <-chan os.Signal) error {
	m := telemetry.NewMetrics()
	st := &state{cfgSync: cfg.SyncInterval, dbPath: cfg.DBPath, url: cfg.Location().String(), metrics: m}
	st.set(StateStarting, "")

	srv, err := telemetry.Listen(cfg.MetricsAddr, m, st.status, logger)
	if err != nil {
		return sysexit.Errorf(sysexit.Usage, "invalid METRICS_ADDR: cannot listen on %s: %v", cfg.MetricsAddr, err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	logger.Info("serving metrics and health", "addr", srv.Addr())

	r := &runner{cfg: cfg, logger: logger, st: st, signals: signals}
	runErr := r.start(ctx)
	for runErr == nil && r.store != nil && !r.stopRequested {
		runErr = r.loop(ctx, serveErr)
		if !errors.Is(runErr, ErrReplicaLost) && !errors.Is(runErr, errDBReplaced) {
			break
		}
		runErr = r.newHistory(ctx, runErr)
	}
	if errors.Is(runErr, errStopped) {
		runErr = nil
	}
	if runErr != nil {
		// Log the state change now; the error itself is printed once by cmd.
		st.set(StateFailed, runErr.Error())
	}
	return errors.Join(runErr, r.shutdown(ctx, srv))
}

// runner holds what the sidecar opened, in order, for shutdown.
type runner struct {
	cfg     *config.Config
	logger  *slog.Logger
	st      *state
	signals <-chan os.Signal

	// stopRequested: a signal came as the database appeared; start, ship
	// it in shutdown, and stop without entering the loop.
	stopRequested bool

	lease     *lease.Lease // nil without LEASE or for file:// replicas
	idFile    *os.File     // holds the flock of the volume lease id
	leaseLost bool
	// lost says once that another writer took the lease (keepLease, which
	// renews it from acquisition to shutdown); stopKeep ends the renewals.
	lost     <-chan error
	stopKeep func()
	store    *litestream.Store
	db       *litestream.DB

	// watch checks that the replica keeps what we wrote (watch.go);
	// resetting closes the upload gate while a lost history is replaced.
	watch     *snapshotWatch
	resetting atomic.Bool
	// dbFile is DB_PATH as replication started on it: a different file
	// there later means the database was replaced (replaced, below).
	dbFile os.FileInfo
}

// errDBReplaced: DB_PATH is now another file than the one replication
// started on (the app, or an operator, moved a new database into place).
// Litestream keeps reading the old file through its open handles while the
// app writes the new one, so the replica silently stops following the app.
var errDBReplaced = errors.New("database file replaced")

// replaced checks DB_PATH against the file replication started on: an
// error wrapping errDBReplaced when another file is there, a problem
// string while there is none.
func (r *runner) replaced() (problem string, err error) {
	fi, err := os.Stat(r.cfg.DBPath)
	switch {
	case err != nil:
		return fmt.Sprintf("the database file %s is gone (%v): nothing to replicate until the app recreates it", r.cfg.DBPath, err), nil
	case !os.SameFile(fi, r.dbFile):
		return "", fmt.Errorf("%w: %s is a different file than the one replication started on", errDBReplaced, r.cfg.DBPath)
	}
	return "", nil
}

// wait sleeps d; errStopped when a signal or ctx ends it first.
func (r *runner) wait(ctx context.Context, d time.Duration, what string) error {
	select {
	case <-ctx.Done():
		return errStopped
	case sig := <-r.signals:
		r.logger.Info("signal received while "+what, "signal", sig.String())
		return errStopped
	case <-time.After(d):
		return nil
	}
}

// start runs steps 1-3 of the package doc and opens replication. It leaves
// r.store nil (and returns errStopped or nil) when stopped before that.
func (r *runner) start(ctx context.Context) error {
	cfg, logger, st := r.cfg, r.logger, r.st
	// The lease comes first: no proof below, not even that a first boot's
	// replica is empty, holds while another writer may still write.
	if err := r.takeLease(ctx); err != nil {
		return err
	}
	raw := replica.WithStallTimeout(replica.NewClient(cfg, logger), cfg.S3StallTimeout)
	if err := r.waitDB(ctx, raw); err != nil {
		return err
	}

	if err := replica.CheckHeader(cfg.DBPath); err != nil {
		return err
	}
	fi, err := os.Stat(cfg.DBPath)
	if err != nil {
		return fmt.Errorf("stat %s: %w", cfg.DBPath, err)
	}
	r.dbFile = fi

	lin := lineage{url: st.url}
	if mk, err := replica.ReadMarker(cfg.DBPath); err == nil {
		lin.marker = &mk
		st.mu.Lock()
		st.marker = &mk
		st.mu.Unlock()
		st.metrics.RestoreDuration.Set(mk.Duration)
		st.metrics.RestoreInfo.WithLabelValues(mk.Outcome).Set(1)
	} else if !errors.Is(err, os.ErrNotExist) {
		lin.markErr = err
	}

	r.watch = &snapshotWatch{client: raw}
	client := &observedClient{ReplicaClient: raw, onWrite: func(level int, maxTXID ltx.TXID, err error, at time.Time) {
		st.wrote(level, maxTXID, err, at)
		if err == nil {
			r.watch.uploaded(level, maxTXID)
		}
	}}
	client.allow = func() error {
		if r.resetting.Load() {
			return fmt.Errorf("not writing: %w", errResetting)
		}
		if r.lease != nil && !r.lease.Valid(time.Now()) {
			return fmt.Errorf("not writing: %w", errLeaseNotValid)
		}
		return nil
	}

	// The guard runs under the lease, so nobody can move the replica
	// between the check and our first upload.
	st.set(StateCheckingLineage, "")
	for attempt := 0; ; attempt++ {
		err := r.checkLineage(ctx, raw, lin)
		if err == nil {
			break
		}
		if errors.Is(err, ErrBehind) {
			return r.holdBehind(ctx, err)
		}
		if errors.Is(err, ErrLineage) {
			st.metrics.LineageRefused.Set(1)
			return err
		}
		if st.set(StateCheckingLineage, "cannot read the replica to check lineage: "+err.Error()) {
			logger.Warn("cannot check lineage yet, retrying", "error", err.Error())
		}
		if err := r.wait(ctx, lease.Retry, "checking lineage"); err != nil {
			return err
		}
	}

	if err := r.ensureBase(ctx, raw); err != nil {
		return err
	}
	// From the continuity check until Litestream holds its own read
	// transaction, the pin keeps the app from restarting the WAL
	// (pkg/replica/pin.go).
	pin, err := r.continuous(ctx)
	if err != nil {
		return err
	}
	defer pin.Release()
	store, db := replica.NewStore(cfg, client, logger)
	if err := store.Open(ctx); err != nil {
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("start replication of %s to %s: %w", cfg.DBPath, st.url, err))
	}
	r.store, r.db = store, db
	if pin.Held() {
		// Litestream opens the database and takes its read transaction in
		// its first sync. A failure here is retried by its monitor.
		if err := db.Sync(ctx); err != nil {
			logger.Warn("first sync failed; Litestream retries it", "error", err.Error())
		}
	}
	st.set(StateReplicating, "")
	st.markStarted()
	logger.Info("replicating", "db", cfg.DBPath, "replica", st.url, "sync_interval", cfg.SyncInterval.String(),
		"snapshot_interval", cfg.SnapshotInterval.String(), "retention", cfg.Retention.String())
	return nil
}

var errLeaseNotValid = errors.New("single-writer lease not held or about to expire")

var errResetting = errors.New("replacing a lost replica history")

func (r *runner) checkLineage(ctx context.Context, client litestream.ReplicaClient, lin lineage) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tip, err := remoteTip(ctx, client)
	if err != nil {
		return fmt.Errorf("list %s: %w", r.st.url, err)
	}
	var l0 *ltx.FileInfo
	if tip != nil {
		lin.remote = tip.MaxTXID
		if l0, lin.remoteSum, err = replica.L0At(ctx, client, lin.remote); err != nil {
			return fmt.Errorf("read %s: %w", r.st.url, err)
		}
	}
	local, err := localPos(r.cfg.DBPath)
	if err == nil && l0 != nil && local >= lin.remote {
		lin.localSum, lin.localOK, err = replica.LocalFileChecksum(r.cfg.DBPath, l0.MinTXID, l0.MaxTXID)
	}
	if err != nil {
		// Unreadable local Litestream state proves nothing; decide on the marker.
		r.logger.Warn("cannot read Litestream's local state", "error", err.Error())
	}
	lin.local = local
	how, err := lin.check()
	if err != nil {
		return err
	}
	if how == viaMarker && local != 0 {
		// The database descends from the replica (the marker proves it),
		// but Litestream's local state does not: left in place, Litestream
		// would upload its files on top of the replica's history. Without
		// it, the first sync is a snapshot.
		r.logger.Warn("Litestream's local state does not match the replica: removing it, the first sync is a full snapshot",
			"local_txid", local.String(), "replica_txid", lin.remote.String())
		if err := os.RemoveAll(replica.MetaDir(r.cfg.DBPath)); err != nil {
			return sysexit.New(sysexit.CantCreate, fmt.Errorf("remove Litestream's local state: %w", err))
		}
	}
	r.logger.Info("lineage checked", "replica_txid", lin.remote.String(), "local_txid", local.String(), "checksum", lin.remoteSum.String())
	return nil
}

// ensureContinuity: if the WAL no longer continues from Litestream's last
// local LTX file (the app checkpointed while the sidecar was down), the
// replica would silently miss those frames; pkg/replica moves the replica's
// history aside (restorable) and drops the local state, so the first sync
// is a full snapshot. Runs after the lineage guard, under the lease.
func (r *runner) ensureContinuity(ctx context.Context) (replica.Continuity, error) {
	c, err := replica.CheckContinuity(r.cfg.DBPath)
	if err != nil {
		return c, sysexit.New(sysexit.DataErr, fmt.Errorf("check WAL continuity of %s: %w", r.cfg.DBPath, err))
	}
	if !c.Broken {
		return c, nil
	}
	r.logger.Warn("WAL discontinuity: starting a new replica history with a full snapshot", "reason", c.Reason, "local_txid", c.TXID.String())
	dest, err := replica.Rebaseline(ctx, r.cfg, r.logger)
	if err != nil {
		return c, fmt.Errorf("rebaseline %s: %w", r.st.url, err)
	}
	r.logger.Info("previous replica history kept", "at", dest)
	return replica.Continuity{}, nil // no local state left to continue from
}

// continuous runs the continuity check, then pins the WAL, then checks
// that the WAL did not restart in between. The order matters: the check
// reads the -shm, and closing that descriptor under the pin would drop
// the pin's SQLite locks (pkg/replica/pin.go). A restart in between is
// what the next round's check sees, and answers with a new history.
func (r *runner) continuous(ctx context.Context) (*replica.Pin, error) {
	for attempt := 0; attempt < 3; attempt++ {
		c, err := r.ensureContinuity(ctx)
		if err != nil {
			return nil, err
		}
		pin, err := replica.PinWAL(ctx, r.cfg.DBPath)
		if err != nil {
			// Litestream will meet the same database and say what is
			// wrong with it; the start goes on without the pin.
			r.logger.Warn("cannot hold the WAL while starting: an app checkpoint in the next second could cost the replica the frames not yet shipped", "error", err.Error())
			return nil, nil
		}
		if ok, err := c.Unchanged(r.cfg.DBPath); err != nil {
			pin.Release()
			return nil, sysexit.New(sysexit.DataErr, fmt.Errorf("check WAL continuity of %s: %w", r.cfg.DBPath, err))
		} else if ok {
			return pin, nil
		}
		pin.Release()
	}
	return nil, sysexit.New(sysexit.TempFail, fmt.Errorf("the WAL of %s kept restarting while the sidecar started", r.cfg.DBPath))
}

// ensureBase moves aside a replica left without a base (watch.go,
// baseless), so that the first sync is a full snapshot instead of one
// more increment nobody can restore.
func (r *runner) ensureBase(ctx context.Context, client litestream.ReplicaClient) error {
	bad, err := baseless(ctx, client)
	if err != nil {
		return fmt.Errorf("list %s: %w", r.st.url, err)
	}
	if !bad {
		return nil
	}
	r.st.metrics.ReplicaLost.Inc()
	r.logger.Error("the replica holds increments but no snapshot to restore them from (it was wiped while a sidecar ran, or altered): starting a new history with a full snapshot")
	dest, err := replica.Rebaseline(ctx, r.cfg, r.logger)
	if err != nil {
		return fmt.Errorf("rebaseline %s: %w", r.st.url, err)
	}
	r.logger.Info("what the replica held was kept", "at", dest)
	return nil
}

// newHistory replaces a lost replica history (ErrReplicaLost from the
// watcher): loudly (an ERROR line, replica_lost_total, /status), then with
// the upload gate closed it stops Litestream, moves aside whatever was
// uploaded since the loss (increments without a base), drops Litestream's
// local state and runs the start sequence again, so that the first sync is
// a full snapshot of the database as it is. Nothing the app committed is
// lost: it is all in the local database, which the snapshot carries.
func (r *runner) newHistory(ctx context.Context, lost error) error {
	st, logger := r.st, r.logger
	st.set(StateNewHistory, lost.Error())
	if errors.Is(lost, ErrReplicaLost) {
		st.metrics.ReplicaLost.Inc()
		logger.Error("replica history lost: starting a new one with a full snapshot", "error", lost.Error())
	} else {
		logger.Error("database replaced underneath the sidecar: keeping the old history aside and starting a new one with a full snapshot of the new file", "error", lost.Error())
	}
	r.resetting.Store(true)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_ = r.store.Close(cctx) // its final sync is refused by the gate: nothing to add to a lost history
	cancel()
	r.store, r.db = nil, nil
	st.mu.Lock()
	st.initialised, st.lastSync, st.lastSyncErr = false, time.Time{}, nil
	st.mu.Unlock()
	dest, err := replica.Rebaseline(ctx, r.cfg, logger)
	if err != nil {
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("%w; moving what is left aside failed: %w", lost, err))
	}
	logger.Info("what the replica held after the loss was kept", "at", dest)
	r.resetting.Store(false)
	return r.start(ctx)
}

// loop refreshes positions and keeps the lease until a signal, ctx's end,
// a server failure or the loss of the lease.
func (r *runner) loop(ctx context.Context, serveErr <-chan error) error {
	st, logger, db := r.st, r.logger, r.db
	cu := &catchUp{db: db, timeout: 10 * time.Second}
	initialised := false
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	checks := time.NewTicker(replicaCheckInterval)
	defer checks.Stop()
	checked, checking := make(chan error, 1), false
	for {
		select {
		case <-checks.C:
			if initialised && !checking {
				checking = true
				go func() { checked <- r.watch.check(ctx) }()
			}
		case err := <-checked:
			checking = false
			switch {
			case errors.Is(err, ErrReplicaLost):
				return err
			case errors.Is(err, errBucketMissing):
				if st.setProblem("replica", err.Error()) {
					logger.Error("nothing can be replicated until the bucket is recreated", "error", err.Error())
				}
			case err == nil:
				if st.setProblem("replica", "") {
					logger.Info("replica bucket is back")
				}
			}
		case <-ctx.Done():
			return nil
		case sig := <-r.signals:
			logger.Info("signal received, final sync", "signal", sig.String())
			return nil
		case err := <-serveErr:
			return fmt.Errorf("metrics server: %w", err)
		case err := <-r.lost:
			return r.onLeaseLost(err)
		case now := <-t.C:
			if !initialised {
				// Litestream initialises a DB lazily, on its first monitor
				// tick, and DB.Close skips the final sync of a DB it never
				// initialised: a SIGTERM in that window would lose every
				// commit. So the sidecar initialises it itself, at once, and
				// is not ready (and pushes no sync) before that. Local LTX
				// files left by an earlier run do not count: they describe
				// the past, not an initialised DB.
				initialised = initialSync(ctx, db, logger, st)
				continue
			}
			problem, err := r.replaced()
			if err != nil {
				return err
			}
			if st.setProblem("db", problem) && problem != "" {
				logger.Error("database file missing", "reason", problem)
			}
			local, err := db.Pos()
			if err != nil {
				continue
			}
			remote := db.Replica.Pos().TXID
			var oldest time.Time
			// Litestream zeroes the replica position after a failed sync
			// until it lists the replica again: no file times then.
			if local.TXID > remote && remote > 0 {
				oldest = oldestUnreplicated(db.LTXLevelDir(0), remote)
			}
			behindFor := st.observe(local.TXID, remote, oldest, now)
			cu.maybe(ctx, behindFor, r.cfg.SyncInterval, now)
			if ready, reason, changed := st.readinessChange(now); changed && ready {
				logger.Info("ready", "local_txid", local.TXID.String())
			} else if changed {
				logger.Warn("not ready", "reason", reason)
			}
		}
	}
}

// initialSync initialises the DB and uploads what it holds, bounded so the
// loop stays responsive to signals. It reports success.
func initialSync(ctx context.Context, db *litestream.DB, logger *slog.Logger, st *state) bool {
	ctx, cancel := context.WithTimeout(ctx, max(st.cfgSync, 5*time.Second))
	defer cancel()
	if err := db.SyncAndWait(ctx); err != nil {
		if st.set(StateReplicating, "first sync pending: "+err.Error()) {
			logger.Warn("first sync failed, retrying", "error", err.Error())
		}
		return false
	}
	st.set(StateReplicating, "")
	st.mu.Lock()
	st.initialised = true
	st.mu.Unlock()
	return true
}

// shutdown is the timed sequence, in reverse order of opening: final sync
// and close of the store (which retries within SHUTDOWN_TIMEOUT), the
// lease released, then the HTTP server. It runs even if ctx was cancelled.
func (r *runner) shutdown(ctx context.Context, srv *telemetry.Server) error {
	cfg, logger := r.cfg, r.logger
	r.st.set(StateStopping, "shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if r.store != nil {
		cctx := sctx
		if r.leaseLost {
			// No final sync without the lease (the gate refuses the
			// uploads anyway): just close, briefly.
			var c context.CancelFunc
			cctx, c = context.WithTimeout(sctx, time.Second)
			defer c()
		}
		start := time.Now()
		r.st.mu.Lock()
		initialised := r.st.initialised
		r.st.mu.Unlock()
		if !initialised && !r.leaseLost {
			// Stopped before the first sync: Litestream never initialised
			// the DB, and DB.Close would skip the final sync of what the
			// app already committed. Initialise and ship it now.
			if err := r.db.SyncAndWait(cctx); err != nil {
				logger.Warn("sync before the final sync failed", "error", err.Error())
			}
		}
		if err := r.store.Close(cctx); err != nil && !r.leaseLost {
			errs = append(errs, sysexit.New(sysexit.Unavailable, fmt.Errorf("final sync within SHUTDOWN_TIMEOUT=%s: %w", cfg.ShutdownTimeout, err)))
		} else if !r.leaseLost {
			logger.Info("final sync done", "duration", time.Since(start).Round(time.Millisecond).String())
		}
	}
	if r.stopKeep != nil {
		r.stopKeep() // no renewal may race the release
	}
	if r.lease != nil && !r.leaseLost {
		if err := r.lease.Release(sctx); err != nil {
			logger.Warn("lease not released; it runs out by itself", "error", err.Error(), "ttl", lease.TTL.String())
		} else {
			logger.Info("lease released")
		}
		r.st.metrics.LeaseHeld.Set(0)
	}
	if r.idFile != nil {
		r.idFile.Close()
	}
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("metrics server shutdown: %w", err))
	}
	return errors.Join(errs...)
}
