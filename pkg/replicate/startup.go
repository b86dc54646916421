package replicate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/benbjohnson/litestream"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// The first steps of start: the lease, then the database. /startupz (the
// orchestrator's gate before the app starts) passes once these prove that
// the app may write: the lineage is checked under the lease (start), or the
// replica is proven empty under the lease and the app is to create the
// database (waitDB).

// takeLease holds the single-writer lease from here to shutdown: acquired
// once (waiting while another writer holds it), then renewed by keepLease.
// On a new history the lease is still ours: it only waits for it to be
// valid again if renewals are failing.
func (r *runner) takeLease(ctx context.Context) error {
	cfg := r.cfg
	switch {
	case r.lease != nil:
		return r.awaitValidLease(ctx)
	case leased(cfg):
		if err := r.awaitTurn(ctx); err != nil {
			return err
		}
		if err := r.acquireLease(ctx); err != nil {
			return err
		}
		r.lost, r.stopKeep = keepLease(ctx, r.lease, r.logger)
	case cfg.Lease:
		r.logger.Info("no lease for a file:// replica: single writer is up to you")
	}
	r.markAcquired()
	return nil
}

// awaitTurn waits, with several databases, until the lease of the one
// before this in DB_PATH is held: two sidecars racing for the same set
// then never hold one lease each and wait for each other's.
func (r *runner) awaitTurn(ctx context.Context) error {
	if r.turn == nil {
		return nil
	}
	select {
	case <-r.turn:
		return nil
	default:
	}
	r.st.set(StateWaitingLease, "waiting for the lease of the database before this one in DB_PATH (leases are taken in that order)")
	select {
	case <-r.turn:
		return nil
	case <-ctx.Done():
		return errStopped
	case sig := <-r.signals:
		return sysexit.New(sysexit.TempFail, fmt.Errorf("stopped (%s) while waiting for the leases of %s in DB_PATH's order: nothing was replicated", sig, r.st.url))
	}
}

// leased reports whether the sidecar holds the single-writer lease: LEASE
// and an s3:// replica (a file:// one has no conditional writes).
func leased(cfg *config.Config) bool { return cfg.Lease && cfg.Location().Scheme == "s3" }

// acquireLease waits until the lease is ours. Another holder means wait;
// a SIGTERM while waiting exits 75: the app's commits were not replicated.
func (r *runner) acquireLease(ctx context.Context) error {
	bs, err := bucket.New(r.cfg)
	if err != nil {
		return err
	}
	r.lease = lease.New(bs)
	if id, locked, f, err := lease.VolumeID(r.cfg.DBPath); err != nil {
		r.logger.Warn("no volume lease id: a restart after a crash waits out the lease TTL", "error", err.Error())
	} else {
		r.idFile = f
		r.lease.Owner += "/" + id
		if locked {
			r.lease.ReclaimSuffix = "/" + id
		}
	}
	r.st.mu.Lock()
	r.st.lease = r.lease
	r.st.mu.Unlock()
	r.st.set(StateWaitingLease, "")
	probed, skewed := false, false
	for {
		err := r.probe(ctx, bs, &probed)
		if err == nil {
			err = r.lease.Acquire(ctx)
		}
		if err == nil {
			break
		}
		if errors.Is(err, lease.ErrUnconditional) {
			return err
		}
		// A skewed clock waits as for another holder: nothing is taken or
		// written until it is back within lease.MaxSkew (lease.Acquire).
		waitable := errors.Is(err, lease.ErrHeld) || errors.Is(err, lease.ErrClockSkew)
		if !waitable && !bucket.Retryable(err) {
			// Denied (77) or no such bucket (65): waiting will not fix it.
			return err
		}
		// One line per cause: the skew's figure moves a little from one
		// measurement to the next, the reason in /readyz with it.
		changed := r.st.set(StateWaitingLease, err.Error())
		skew := errors.Is(err, lease.ErrClockSkew)
		switch s, _ := r.lease.Skew(); {
		case skew && !skewed:
			r.logger.Error("clock skew: not taking the single-writer lease", "skew", s.Offset.Round(100*time.Millisecond).String(), "store", bs.Endpoint(), "error", err.Error())
		case !skew && changed:
			r.logger.Warn("waiting for the single-writer lease", "error", err.Error())
		}
		skewed = skew
		if werr := r.wait(ctx, lease.Retry, "waiting for the lease"); werr != nil {
			if waitable {
				return sysexit.New(sysexit.TempFail, fmt.Errorf("stopped while waiting for the lease on %s (%w): nothing was replicated", r.st.url, err))
			}
			return werr
		}
	}
	if r.lease.Reclaimed {
		r.logger.Info("took over the lease of a previous sidecar on this volume (it stopped without releasing it)")
	}
	r.logger.Info("lease acquired", "owner", r.lease.Owner, "ttl", lease.TTL.String())
	return nil
}

// probe proves once, before the first acquisition, that the store enforces
// the conditional writes the lease rests on (lease.Probe). A store that
// does not stops the sidecar (78): with LEASE=true the operator asked for
// a single writer, and on such a store the lease would exclude nobody.
func (r *runner) probe(ctx context.Context, bs *bucket.Store, probed *bool) error {
	if *probed {
		return nil
	}
	err := lease.Probe(ctx, bs)
	if errors.Is(err, lease.ErrUnconditional) {
		return sysexit.New(sysexit.Config, fmt.Errorf("the single-writer lease cannot work on %s at %s: %w; with such a store two writers would both hold the lease. "+
			"Use a store that enforces If-Match and If-None-Match (MinIO after minio/minio#21526, AWS S3), or set LEASE=false and make sure yourself that one writer runs",
			r.st.url, bs.Endpoint(), err))
	}
	*probed = err == nil
	return err
}

// awaitValidLease waits, on a restart of the sequence, until the lease
// kept by keepLease is valid (renewals may be failing in an outage).
func (r *runner) awaitValidLease(ctx context.Context) error {
	for !r.lease.Valid(time.Now()) {
		why := "lease renewal failing"
		if err := r.lease.Problem(); err != nil {
			why = err.Error() // stood down for a clock skew
		}
		r.st.set(StateWaitingLease, why)
		select {
		case err := <-r.lost:
			return r.onLeaseLost(err)
		default:
		}
		if err := r.wait(ctx, lease.Retry, "waiting for the lease"); err != nil {
			return err
		}
	}
	return nil
}

// onLeaseLost ends replication when another writer took the lease: exit 75.
func (r *runner) onLeaseLost(err error) error {
	r.leaseLost = true
	r.st.set(StateLeaseLost, err.Error())
	return sysexit.New(sysexit.TempFail, fmt.Errorf("replication of %s stopped: %w", r.st.url, err))
}

// waitDB waits for DB_PATH to exist. Meanwhile, on a first boot, it proves
// the replica empty (under the lease, nobody can write to it after that)
// and lets the app start to create the database. A replica that holds data
// while DB_PATH is missing means restore did not run or did not finish:
// the app must not create a new database there, so the startup gate stays
// shut and the sidecar says why, loudly. If a database appears anyway, the
// lineage guard decides about it.
func (r *runner) waitDB(ctx context.Context, client litestream.ReplicaClient) error {
	cfg, logger, st := r.cfg, r.logger, r.st
	if _, err := os.Stat(cfg.DBPath); err == nil {
		return nil
	}
	if st.set(StateWaitingDB, "") {
		logger.Info("waiting for the database to appear", "path", cfg.DBPath)
	}
	proven, next := false, time.Time{}
	for {
		if _, err := os.Stat(cfg.DBPath); err == nil {
			return nil
		}
		if !proven && !time.Now().Before(next) {
			proven = r.proveEmpty(ctx, client)
			next = time.Now().Add(lease.Retry)
		}
		select {
		case <-ctx.Done():
			return errStopped
		case err := <-r.lost:
			return r.onLeaseLost(err)
		case sig := <-r.signals:
			// The app may have created and written the database since the
			// last look: if it is there now, start anyway so that
			// shutdown's final sync ships it, then stop.
			if _, err := os.Stat(cfg.DBPath); err != nil {
				logger.Info("signal received while waiting for the database", "signal", sig.String())
				return errStopped
			}
			logger.Info("signal received as the database appeared: starting only to ship it", "signal", sig.String())
			r.stopRequested = true
			return nil
		case <-time.After(pollInterval):
		}
	}
}

// proveEmpty lists the replica for a first boot; it reports whether the
// replica was proven empty (and the app may start).
func (r *runner) proveEmpty(ctx context.Context, client litestream.ReplicaClient) bool {
	st, logger := r.st, r.logger
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tip, err := ltxstate.Tip(lctx, client)
	previous := ""
	if err == nil && tip == nil {
		previous, err = previousHistory(lctx, r.cfg)
	}
	switch {
	case err != nil:
		if st.is(StateBehind) {
			// Still the last thing known: a store that stops answering
			// proves nothing new, and the alert must not flap with it.
			return false
		}
		if st.set(StateWaitingDB, "cannot read the replica to prove it empty: "+err.Error()) {
			logger.Warn("cannot read the replica to prove it empty, retrying", "error", err.Error())
		}
		return false
	case tip != nil:
		why := fmt.Sprintf("the replica %s holds a backup (position %s) but %s does not exist: restore did not run or did not finish for this copy; "+
			"the app must not create a new database here (delete the pod / restart the allocation so that restore runs)", st.url, tip.MaxTXID, r.cfg.DBPath)
		if st.set(StateBehind, why) {
			logger.Error("database missing while the replica holds a backup: not letting the app start", "reason", why)
		}
		return false
	case previous != "":
		why := fmt.Sprintf("the replica %s's latest backup is the history a sidecar moved to %s as it started a new one, but %s does not exist: restore did not run or did not finish for this copy; "+
			"the app must not create a new database here (delete the pod / restart the allocation so that restore runs)", st.url, previous, r.cfg.DBPath)
		if st.set(StateBehind, why) {
			logger.Error("database missing while the replica holds a backup: not letting the app start", "reason", why)
		}
		return false
	}
	st.set(StateWaitingDB, "")
	st.markStarted()
	logger.Info("replica proven empty: the app may create the database", "replica", st.url)
	return true
}

// holdBehind keeps a sidecar whose database is behind the replica (ErrBehind)
// up, unready and loud until it is stopped: exiting would only restart it
// into the same state, while staying up keeps /status, the metric and the
// alert telling the operator. The app's startup gate stays shut. The lease
// stays held so that nobody moves the replica further meanwhile; it is
// released at shutdown. Stopped, it exits 65 (nothing was replicated).
func (r *runner) holdBehind(ctx context.Context, behind error) error {
	st, logger := r.st, r.logger
	st.set(StateBehind, behind.Error())
	logger.Error("LOCAL DATABASE BEHIND THE REPLICA: not replicating it", "error", behind.Error())
	select {
	case <-ctx.Done():
	case err := <-r.lost:
		return r.onLeaseLost(err)
	case sig := <-r.signals:
		logger.Info("signal received while behind the replica", "signal", sig.String())
	}
	return behind
}
