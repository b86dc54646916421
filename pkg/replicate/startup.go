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
		if err := r.awaitValidLease(); err != nil {
			return err
		}
		r.answered()
	case leased(cfg):
		if err := r.awaitTurn(); err != nil {
			return err
		}
		if err := r.acquireLease(ctx); err != nil {
			return err
		}
		r.answered()
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
func (r *runner) awaitTurn() error {
	if r.turn == nil {
		return nil
	}
	select {
	case <-r.turn:
		return nil
	default:
	}
	r.st.set(StateWaitingLease, "waiting for the lease of the database before this one in DB_PATH (leases are taken in that order)")
	r.waitOn("waiting for the single-writer lease", waitTurn, nil)
	select {
	case <-r.turn:
		return nil
	case <-r.stopCtx.Done():
		return r.stopped("waiting for the leases in DB_PATH's order")
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
	r.endpointName = bs.Endpoint()
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
	// The probe is the sidecar's first request: made once, each failure
	// is logged with its own cause at once, where minio-go's retries
	// would spend lease.CallTimeout and leave only the deadline.
	pbs, err := bucket.New(r.cfg, bucket.OneAttempt)
	if err != nil {
		return err
	}
	const what = "waiting for the single-writer lease"
	probed := false
	for {
		answered := r.asking(what)
		rctx, cancel := r.request(ctx)
		err := r.probe(rctx, pbs, &probed)
		if err == nil {
			err = r.lease.Acquire(rctx)
		}
		cancel()
		answered()
		if err == nil {
			break
		}
		if r.cutShort(rctx) {
			return r.stopped(what)
		}
		if errors.Is(err, lease.ErrUnconditional) {
			return err
		}
		// A skewed clock waits as for another holder: nothing is taken or
		// written until it is back within lease.MaxSkew (lease.Acquire).
		var attrs []any
		c := waitStore
		switch {
		case errors.Is(err, lease.ErrHeld):
			c = waitHolder
		case errors.Is(err, lease.ErrClockSkew):
			s, _ := r.lease.Skew()
			c, attrs = waitClock, []any{"skew", s.Offset.Round(100 * time.Millisecond).String(), "store", bs.Endpoint()}
		case !bucket.Retryable(err):
			// Denied (77) or no such bucket (65): waiting will not fix it.
			return err
		}
		r.st.set(StateWaitingLease, err.Error())
		// One line per cause, then one every waitReport: the skew's figure
		// and the holder's expiry move from one attempt to the next.
		r.waitOn(what, c, err, attrs...)
		if werr := r.wait(lease.Retry, what); werr != nil {
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
func (r *runner) probe(ctx context.Context, bs lease.Store, probed *bool) error {
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
func (r *runner) awaitValidLease() error {
	const what = "waiting for the single-writer lease"
	for !r.lease.Valid(time.Now()) {
		c, why := waitStore, errRenewalFailing
		if err := r.lease.Problem(); err != nil {
			c, why = waitClock, err // stood down for a clock skew
		}
		r.st.set(StateWaitingLease, why.Error())
		r.waitOn(what, c, why)
		select {
		case err := <-r.lost:
			return r.onLeaseLost(err)
		default:
		}
		if err := r.wait(lease.Retry, what); err != nil {
			return err
		}
	}
	return nil
}

// errRenewalFailing: the lease kept since the last start is not renewed
// (keepLease logs each failure's cause).
var errRenewalFailing = errors.New("lease renewal failing")

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
	const what = "waiting for the database to appear"
	if st.set(StateWaitingDB, "") {
		logger.Info(what, "path", cfg.DBPath)
	}
	proven, next := false, time.Time{}
	for {
		if _, err := os.Stat(cfg.DBPath); err == nil {
			return nil
		}
		if !proven && !time.Now().Before(next) {
			var err error
			answered := r.asking(what)
			rctx, cancel := r.request(ctx)
			proven, err = r.proveEmpty(rctx, client)
			cancel()
			answered()
			next = time.Now().Add(lease.Retry)
			switch {
			case r.cutShort(rctx): // it says nothing of the store
			case err != nil:
				r.waitOn(what, waitStore, err)
			default:
				r.waitOn(what, waitApp, nil)
			}
		} else {
			r.waitOn(what, r.waiting.cause, r.waiting.err) // the periodic line
		}
		select {
		case <-r.stopCtx.Done():
			// The app may have created and written the database since the
			// last look: if it is there now, start anyway so that
			// shutdown's final sync ships it, then stop.
			if _, err := os.Stat(cfg.DBPath); err != nil || r.signal() == nil {
				return r.stopped(what)
			}
			logger.Info("signal received as the database appeared: starting only to ship it", "signal", r.signal().String())
			r.stopRequested = true
			return nil
		case err := <-r.lost:
			return r.onLeaseLost(err)
		case <-time.After(pollInterval):
		}
	}
}

// proveEmpty lists the replica for a first boot; it reports whether the
// replica was proven empty (and the app may start), and the error when
// the store gave no answer that tells (nil while behind the replica: the
// last thing known stands).
func (r *runner) proveEmpty(ctx context.Context, client litestream.ReplicaClient) (bool, error) {
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
			return false, nil
		}
		st.set(StateWaitingDB, "cannot read the replica to prove it empty: "+err.Error())
		return false, fmt.Errorf("cannot read the replica to prove it empty: %w", err)
	case tip != nil:
		why := fmt.Sprintf("the replica %s holds a backup (position %s) but %s does not exist: restore did not run or did not finish for this copy; "+
			"the app must not create a new database here (delete the pod / restart the allocation so that restore runs)", st.url, tip.MaxTXID, r.cfg.DBPath)
		if st.set(StateBehind, why) {
			logger.Error("database missing while the replica holds a backup: not letting the app start", "reason", why)
		}
		return false, nil
	case previous != "":
		why := fmt.Sprintf("the replica %s's latest backup is the history a sidecar moved to %s as it started a new one, but %s does not exist: restore did not run or did not finish for this copy; "+
			"the app must not create a new database here (delete the pod / restart the allocation so that restore runs)", st.url, previous, r.cfg.DBPath)
		if st.set(StateBehind, why) {
			logger.Error("database missing while the replica holds a backup: not letting the app start", "reason", why)
		}
		return false, nil
	}
	st.set(StateWaitingDB, "")
	st.markStarted()
	logger.Info("replica proven empty: the app may create the database", "replica", st.url)
	return true, nil
}

// holdBehind keeps a sidecar whose database is behind the replica (ErrBehind)
// up, unready and loud until it is stopped: exiting would only restart it
// into the same state, while staying up keeps /status, the metric and the
// alert telling the operator. The app's startup gate stays shut. The lease
// stays held so that nobody moves the replica further meanwhile; it is
// released at shutdown. Stopped, it exits 65 (nothing was replicated).
func (r *runner) holdBehind(behind error) error {
	st, logger := r.st, r.logger
	st.set(StateBehind, behind.Error())
	logger.Error("LOCAL DATABASE BEHIND THE REPLICA: not replicating it", "error", behind.Error())
	select {
	case <-r.stopCtx.Done():
		if sig := r.signal(); sig != nil {
			logger.Info("signal received while behind the replica", "signal", sig.String())
		}
	case err := <-r.lost:
		return r.onLeaseLost(err)
	}
	return behind
}
