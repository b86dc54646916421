package replicate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// shutdown is the timed sequence, in reverse order of opening: final sync
// and close of the store (which retries within SHUTDOWN_TIMEOUT), then the
// lease released. It runs even if ctx was cancelled. The HTTP server is
// stopped after every database's (stopServer).
func (r *runner) shutdown(ctx context.Context) error {
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
	if r.holdsLease() && !r.leaseLost {
		if err := r.lease.Release(sctx); err != nil {
			logger.Warn("lease not released; it runs out by itself", "error", err.Error(), "ttl", lease.TTL.String())
		} else {
			logger.Info("lease released")
		}
	}
	if r.idFile != nil {
		r.idFile.Close()
	}
	return errors.Join(errs...)
}

// serverStopTimeout bounds the HTTP server's stop, after the final syncs.
const serverStopTimeout = 5 * time.Second

// stopServer lets in-flight requests (a last scrape) finish, briefly.
func stopServer(ctx context.Context, srv *telemetry.Server) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serverStopTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("metrics server shutdown: %w", err)
	}
	return nil
}

// holdsLease reports whether this sidecar took the lease (and has not
// lost it): one that never got it (another holder, a wrong secret) has
// nothing to release, and must not say it released it.
func (r *runner) holdsLease() bool {
	if r.lease == nil {
		return false
	}
	_, _, ours := r.lease.Held()
	return ours
}
