// Package replicate is sidecar mode: wait for the app's database, replicate
// it continuously through the Litestream library, report through
// pkg/telemetry, and on SIGTERM sync what the app committed before exiting
// (docs/design.md "The sidecar").
//
// The start is a sequence, each step visible in /readyz and logged once
// (files: startup.go, guards.go, lineage.go; then loop.go, shutdown.go):
//
//  1. waiting_for_lease: with LEASE=true and an s3:// replica, the sidecar
//     takes the single-writer lease <prefix>/lock.json (pkg/lease) first:
//     no proof below holds while another writer may still write. While
//     another writer holds an unexpired lease it WAITS (unready,
//     lease_held 0) and writes nothing; a lease left by a crashed sidecar
//     on this same volume is taken back at once. A SIGTERM while waiting
//     exits 75, 69 while the store does not answer (stop.go: every wait of
//     the start, and its exit code). From then to shutdown keepLease renews it; uploads stop
//     shortly before it would run out unrenewed and resume on the next
//     renewal. If another writer took it, the sidecar stops replicating
//     and exits 75. With this node's clock proven off the store's by more
//     than lease.MaxSkew the lease is neither taken nor kept (it stands
//     down until the clock is right: pkg/lease/skew.go).
//  2. waiting_for_database: DB_PATH does not exist yet. On a first boot
//     the sidecar proves the replica empty under the lease and lets the
//     app start (/startupz) to create it; a replica holding a backup while
//     DB_PATH is missing means restore did not run: behind_replica.
//  3. checking_lineage: the lineage guard (lineage.go, on the proof
//     pkg/ltxstate shares with restore). When the replica
//     holds data, the local database must descend from it: Litestream's
//     local state holds the very L0 file that brought the replica to its
//     position (a restart of this sidecar), or the restore marker names
//     this REPLICA_URL at exactly the replica's position and file. A copy
//     restored from this history and never replicated, whose replica moved
//     on since, is held behind the replica (up, unready, loud); anything
//     else exits 65 without writing a byte. Then the WAL-continuity check
//     (pkg/dbfile): if the app checkpointed while the sidecar was down, the
//     replica's history is moved aside and the first sync is a full
//     snapshot.
//  4. replicating (/startupz 200 from here), until SIGTERM: a final sync
//     within SHUTDOWN_TIMEOUT, the lease released, exit 0. Meanwhile the
//     replica watcher (watch.go) checks that the replica still holds our
//     newest snapshot; when it does not (a wiped prefix, a store that lost
//     its data) the sidecar starts a new history with a full snapshot
//     (newHistory) and runs steps 2-3 again.
package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/engine"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
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
	// As a missing bucket stops the lease's probe of an s3:// one.
	if err := bucket.CheckLocalDir(cfg); err != nil {
		return err
	}
	if cfg.Several() {
		return runSeveral(ctx, cfg, logger, signals)
	}
	m := telemetry.NewMetrics()
	st := &state{cfgSync: cfg.SyncInterval, dbPath: cfg.DBPath, url: cfg.Location().String(), metrics: m.Series}
	var held func() bool
	if leased(cfg) {
		held = st.leaseHeld
	}
	m.Observe(st.isReady, held, st.behind)
	observeNode(m.Series, st, held != nil)
	st.set(StateStarting, "")

	srv, err := telemetry.Listen(cfg.MetricsAddr, m, st.status, logger)
	if err != nil {
		return sysexit.Errorf(sysexit.Usage, "invalid METRICS_ADDR: cannot listen on %s: %v", cfg.MetricsAddr, err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	logger.Info("serving metrics and health", "addr", srv.Addr())

	r := &runner{cfg: cfg, logger: logger, st: st, signals: signals}
	runErr := r.run(ctx, serveErr)
	return errors.Join(runErr, r.shutdown(ctx), stopServer(ctx, srv))
}

// run is the start sequence, then the loop, and a new history after a
// loss, until a stop (nil) or an error.
func (r *runner) run(ctx context.Context, serveErr <-chan error) error {
	defer r.watchSignals(ctx)()
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
		r.st.set(StateFailed, runErr.Error())
	}
	return runErr
}

// runner holds what the sidecar opened, in order, for shutdown.
type runner struct {
	cfg     *config.Config
	logger  *slog.Logger
	st      *state
	signals <-chan os.Signal
	// stopCtx ends at the first signal (watchSignals): the waits of the
	// start, and the requests made while waiting, end with it at once.
	stopCtx context.Context
	// waiting is what the start waits for, for its logs and the exit
	// code of a stop (stop.go).
	waiting      waiting
	endpointName string // endpoint(), once known

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
	// startingNewHistory closes the upload gate while a lost history is replaced.
	watch              *snapshotWatch
	startingNewHistory atomic.Bool
	// dbFile is DB_PATH as replication started on it: a different file
	// there later means the database was replaced (replaced, below).
	dbFile os.FileInfo
	// proven is the evidence the lineage guard accepted at this start.
	proven ltxstate.Evidence

	// With several databases the leases are taken in DB_PATH's order
	// (several.go): turn is closed once the previous database's lease is
	// held (nil: no wait), and this runner closes acquired once its own is.
	turn         <-chan struct{}
	acquired     chan struct{}
	acquiredOnce sync.Once
}

// markAcquired lets the next database take its lease; safe to call again.
func (r *runner) markAcquired() {
	if r.acquired != nil {
		r.acquiredOnce.Do(func() { close(r.acquired) })
	}
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

// wait sleeps d; when a signal or ctx ends it first, the error of a stop
// while waiting for what r.waiting records (stopped).
func (r *runner) wait(d time.Duration, what string) error {
	select {
	case <-r.stopCtx.Done():
		return r.stopped(what)
	case <-time.After(d):
		return nil
	}
}

// start runs steps 1-3 of the package doc and opens replication. It leaves
// r.store nil (and returns errStopped or nil) when stopped before that.
func (r *runner) start(ctx context.Context) error {
	cfg, logger, st := r.cfg, r.logger, r.st
	// Until the store answers, a stop is a stop while waiting for it. A
	// signal ends the waits below at once, and their requests soon after
	// (request, stop.go).
	r.waiting = waiting{cause: waitStore}
	// The lease comes first: no proof below, not even that a first boot's
	// replica is empty, holds while another writer may still write.
	if err := r.takeLease(ctx); err != nil {
		return err
	}
	raw := engine.WithStallTimeout(engine.NewClient(cfg, logger), cfg.S3StallTimeout)
	if err := r.waitDB(ctx, raw); err != nil {
		return err
	}

	if err := dbfile.CheckHeader(cfg.DBPath); err != nil {
		return err
	}
	if dbfile.JournalMode(cfg.DBPath) == "rollback" {
		// Litestream needs WAL and switches the file to it when it opens
		// it; the app's own PRAGMA journal_mode=DELETE then fails with
		// "database is locked" while the sidecar runs (docs/operations.md).
		logger.Warn("the database is in rollback-journal mode: Litestream switches it to WAL to replicate it, and it stays in WAL while the sidecar runs", "journal_mode", "rollback")
	}
	fi, err := os.Stat(cfg.DBPath)
	if err != nil {
		return fmt.Errorf("stat %s: %w", cfg.DBPath, err)
	}
	r.dbFile = fi

	if mk, err := ltxstate.ReadMarker(cfg.DBPath); err == nil {
		st.mu.Lock()
		st.marker = &mk
		st.mu.Unlock()
		st.metrics.RestoreDuration.Set(mk.Duration)
		st.metrics.RestoreInfo.WithLabelValues(mk.Outcome).Set(1)
	}

	r.watch = &snapshotWatch{client: raw}
	client := &observedClient{ReplicaClient: raw, onWrite: func(level int, maxTXID ltx.TXID, err error, at time.Time) {
		st.wrote(level, maxTXID, err, at)
		if err == nil {
			r.watch.uploaded(level, maxTXID)
		}
	}}
	client.allow = func() error {
		if r.startingNewHistory.Load() {
			return fmt.Errorf("not writing: %w", errNewHistory)
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
		answered := r.asking("checking lineage")
		rctx, cancel := r.request(ctx)
		err := r.checkLineage(rctx, raw)
		cancel()
		answered()
		if err == nil {
			break
		}
		if errors.Is(err, ErrBehind) {
			return r.holdBehind(err)
		}
		if errors.Is(err, ErrLineage) {
			st.metrics.LineageRefused.Set(1)
			return err
		}
		if r.cutShort(rctx) {
			return r.stopped("checking lineage")
		}
		st.set(StateCheckingLineage, "cannot read the replica to check lineage: "+err.Error())
		r.waitOn("cannot check lineage yet, retrying", waitStore, err)
		if err := r.wait(lease.Retry, "checking lineage"); err != nil {
			return err
		}
	}

	if err := r.ensureBase(ctx, raw); err != nil {
		return err
	}
	// From the continuity check until Litestream holds its own read
	// transaction, the pin keeps the app from restarting the WAL
	// (pkg/dbfile/pin.go).
	pin, err := r.continuous(ctx)
	if err != nil {
		return err
	}
	defer pin.Release()
	r.checkSpace() // before the first sync, which may stage a full snapshot
	store, db := engine.NewStore(cfg, client, logger)
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
	logger.Info("replicating", "path", cfg.DBPath, "replica", st.url, "sync_interval", cfg.SyncInterval.String(),
		"snapshot_interval", cfg.SnapshotInterval.String(), "retention", cfg.Retention.String())
	return nil
}
