package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/litestream"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// loop refreshes positions and keeps the lease until a signal, ctx's end,
// a server failure or the loss of the lease.
func (r *runner) loop(ctx context.Context, serveErr <-chan error) error {
	st, logger, db := r.st, r.logger, r.db
	cu := &catchUp{db: db, timeout: 10 * time.Second}
	lag := newLagClock(db.WALPath(), db.LTXLevelDir(0))
	initialised, cleared, firstSyncFailed := false, false, false
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	checks := time.NewTicker(replicaCheckInterval)
	defer checks.Stop()
	checked, checking := make(chan error, 1), false
	space := time.NewTicker(spaceCheckInterval)
	defer space.Stop()
	for {
		select {
		case <-space.C:
			r.checkSpace()
		case <-checks.C:
			if initialised && !cleared {
				cleared = r.dropPrevious(ctx)
			}
			if initialised && !checking {
				checking = true
				go func() { checked <- r.watch.check(ctx) }()
			}
		case err := <-checked:
			checking = false
			switch {
			case errors.Is(err, ErrReplicaLost):
				return err
			case errors.Is(err, bucket.ErrNoBucket):
				if st.setProblem("replica", err.Error()) {
					logger.Error("nothing can be replicated until the bucket is recreated", "error", err.Error())
				}
			case err == nil:
				if st.setProblem("replica", "") {
					logger.Info("replica bucket is back")
				}
			}
		case <-r.stopCtx.Done():
			if sig := r.signal(); sig != nil {
				logger.Info("signal received, final sync", "signal", sig.String())
			}
			return nil
		case err := <-serveErr:
			if err == nil {
				err = errServerDown // several databases: the failure is broadcast by closing
			}
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
				if r.stopCtx.Err() != nil {
					continue // stopping: shutdown's final sync ships it
				}
				// Under stopCtx: a signal ends a first sync that hangs on
				// the store at once, and shutdown tries again within
				// SHUTDOWN_TIMEOUT.
				answered := func() {}
				if !firstSyncFailed {
					answered = r.asking("first sync")
				}
				initialised = initialSync(r.stopCtx, db, logger, st)
				answered()
				firstSyncFailed = !initialised
				if initialised {
					// Before ready: whoever reads /readyz then finds the
					// levels the only latest backup.
					cleared = r.dropPrevious(ctx)
					st.mu.Lock()
					st.initialised = true
					st.mu.Unlock()
				}
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
			// The oldest commit not in the replica, in L0 files or still
			// in the WAL (lag.go); zero when none or unknown.
			oldest := lag.oldest(local.TXID, remote, now)
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
// loop stays responsive to signals. It reports success; the caller then
// marks the state initialised (ready once the rest holds).
func initialSync(stopCtx context.Context, db *litestream.DB, logger *slog.Logger, st *state) bool {
	ctx, cancel := context.WithTimeout(stopCtx, max(st.cfgSync, 5*time.Second))
	defer cancel()
	if err := db.SyncAndWait(ctx); err != nil {
		if stopCtx.Err() != nil {
			return false // ended by the stop, not by the store
		}
		if st.set(StateReplicating, "first sync pending: "+err.Error()) {
			logger.Warn("first sync failed, retrying", "error", err.Error())
		}
		return false
	}
	st.set(StateReplicating, "")
	return true
}

// dropPrevious removes the note naming a moved history as the latest
// backup (clearPrevious), now that the first sync put this history in the
// levels. It reports success; a failure is retried with the next replica
// check, and until then a restore would read that older history only if
// the levels were emptied again.
func (r *runner) dropPrevious(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := clearPrevious(ctx, r.cfg); err != nil {
		r.logger.Warn("cannot remove the note naming the previous history as the latest backup, retrying", "error", err.Error())
		return false
	}
	return true
}
