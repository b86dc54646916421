package replicate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// The guards of the start sequence, run under the lease: the lineage
// guard, the WAL-continuity check with its pin, a replica without a base;
// and newHistory, which replaces a lost history and runs the start again.

var errLeaseNotValid = errors.New("single-writer lease not held or about to expire")

var errNewHistory = errors.New("starting a new replica history")

func (r *runner) checkLineage(ctx context.Context, client litestream.ReplicaClient) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.finishMove(ctx); err != nil {
		return err
	}
	tip, err := ltxstate.Tip(ctx, client)
	if err != nil {
		return fmt.Errorf("list %s: %w", r.st.url, err)
	}
	var remote ltx.TXID
	if tip != nil {
		remote = tip.MaxTXID
	}
	e, err := ltxstate.Gather(ctx, client, r.cfg.DBPath, r.st.url, remote)
	if err != nil {
		return fmt.Errorf("read %s: %w", r.st.url, err)
	}
	if e.LocalErr != nil {
		// Unreadable local Litestream state proves nothing; decide on the marker.
		r.logger.Warn("cannot read Litestream's local state", "error", e.LocalErr.Error())
	}
	how, err := check(e)
	if err != nil {
		return err
	}
	if how == ltxstate.ByMarker && e.Local != 0 {
		// The database descends from the replica (the marker proves it),
		// but Litestream's local state does not: left in place, Litestream
		// would upload its files on top of the replica's history. Without
		// it, the first sync is a snapshot.
		r.logger.Warn("Litestream's local state does not match the replica: removing it, the first sync is a full snapshot",
			"local_txid", e.Local.String(), "replica_txid", e.Remote.String())
		if err := ltxstate.RemoveLocal(r.cfg.DBPath); err != nil {
			return sysexit.New(sysexit.CantCreate, err)
		}
	}
	r.logger.Info("lineage checked", "replica_txid", e.Remote.String(), "local_txid", e.Local.String(), "checksum", e.RemoteSum.String())
	r.proven = e
	return nil
}

// markWentOn records in the restore marker the replica position the
// lineage guard proved this database holds (r.proven), before the history
// it goes on from is moved aside and Litestream's local state, the other
// proof, is removed. An init step run again on this volume before the new
// history's first snapshot (a pod sandbox recreated, an allocation
// restarted on its disk) then keeps the database, which holds commits the
// moved history lacks, instead of refusing it (restore's handoverKept).
// The marker then says "at or past this position of that history", which
// is what the lineage proof reads from it.
func (r *runner) markWentOn() error {
	e := r.proven
	if e.Remote == 0 {
		return nil // nothing is moved aside
	}
	m := ltxstate.Marker{ReplicaURL: e.URL, TXID: uint64(e.Remote), Outcome: ltxstate.OutcomePresent, Time: time.Now().UTC()}
	if l0 := e.RemoteL0; l0 != nil {
		m.L0Checksum, m.L0File = e.RemoteSum.String(), ltx.FormatFilename(l0.MinTXID, l0.MaxTXID)
	}
	if err := ltxstate.WriteMarker(r.cfg.DBPath, m); err != nil {
		return sysexit.New(sysexit.CantCreate, err)
	}
	return nil
}

// ensureContinuity: if the WAL no longer continues from Litestream's last
// local LTX file (the app checkpointed while the sidecar was down), the
// replica would silently miss those frames; a new history begins:
// keepHistoryAside moves the replica's history aside (restorable) and
// drops the local state, so the first sync is a full snapshot. Runs after the lineage guard, under the lease.
func (r *runner) ensureContinuity(ctx context.Context) (dbfile.Continuity, error) {
	c, err := dbfile.CheckContinuity(r.cfg.DBPath)
	if err != nil {
		return c, sysexit.New(sysexit.DataErr, fmt.Errorf("check WAL continuity of %s: %w", r.cfg.DBPath, err))
	}
	if !c.Broken {
		return c, nil
	}
	r.logger.Warn("WAL discontinuity: starting a new replica history with a full snapshot", "reason", c.Reason, "local_txid", c.TXID.String())
	if err := r.markWentOn(); err != nil {
		return c, err
	}
	// The database goes on from the history: it stays the latest backup
	// until the new one's first snapshot.
	dest, err := keepHistoryAside(ctx, r.cfg, r.logger, true)
	if err != nil {
		return c, fmt.Errorf("start a new history of %s: %w", r.st.url, err)
	}
	r.logger.Info("previous replica history kept", "at", dest)
	return dbfile.Continuity{}, nil // no local state left to continue from
}

// continuous runs the continuity check, then pins the WAL, then checks
// that the WAL did not restart in between. The order matters: the check
// reads the -shm, and closing that descriptor under the pin would drop
// the pin's SQLite locks (pkg/dbfile/pin.go). A restart in between is
// what the next round's check sees, and answers with a new history.
func (r *runner) continuous(ctx context.Context) (*dbfile.Pin, error) {
	for attempt := 0; attempt < 3; attempt++ {
		c, err := r.ensureContinuity(ctx)
		if err != nil {
			return nil, err
		}
		pin, err := dbfile.PinWAL(ctx, r.cfg.DBPath)
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
	r.proven = ltxstate.Evidence{} // what it proved is moved aside as unrestorable
	r.logger.Error("the replica holds increments but no snapshot to restore them from (it was wiped while a sidecar ran, or altered): starting a new history with a full snapshot")
	dest, err := keepHistoryAside(ctx, r.cfg, r.logger, false) // nothing to restore from
	if err != nil {
		return fmt.Errorf("start a new history of %s: %w", r.st.url, err)
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
	r.startingNewHistory.Store(true)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_ = r.store.Close(cctx) // its final sync is refused by the gate: nothing to add to a lost history
	cancel()
	r.store, r.db = nil, nil
	st.mu.Lock()
	st.initialised, st.lastSync, st.lastSyncErr = false, time.Time{}, nil
	st.mu.Unlock()
	// Increments after a loss, or a replaced file's old history: neither
	// is what the database goes on from.
	dest, err := keepHistoryAside(ctx, r.cfg, logger, false)
	if err != nil {
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("%w; moving what is left aside failed: %w", lost, err))
	}
	logger.Info("what the replica held after the loss was kept", "at", dest)
	r.startingNewHistory.Store(false)
	return r.start(ctx)
}
