// Package restore is init mode: decide whether DB_PATH may be used as it
// is, restored, or created new, and never let the app start on a lie
// (docs/design.md "How restore decides").
package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// Result is what a run decided and did.
type Result struct {
	Outcome    string // ltxstate.Outcome*
	TXID       ltx.TXID
	Bytes      int64
	Duration   time.Duration
	MovedAside string // where a stale local copy went, if one did
}

// Run is init mode. It returns nil only when DB_PATH is ready to use or the
// replica was proven empty under RESTORE_IF_REPLICA_MISSING=new. It first
// waits (RESTORE_LEASE_WAIT) while another writer holds the replica's
// lease; everything after that, retries included, runs within
// RESTORE_TIMEOUT.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target) (Result, error) {
	return run(ctx, cfg, logger, target, nil)
}

// run is Run for one database; lim, when set, is shared with the other
// databases restoring at the same time.
func run(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, lim *ltxrestore.Limits) (res Result, err error) {
	start := time.Now()
	url := cfg.Location().String()
	logger = logger.With("replica", url, "db", cfg.DBPath)

	var local ltxstate.Local // what lies beside a database already at DB_PATH
	_, err = os.Stat(cfg.DBPath)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, sysexit.New(sysexit.CantCreate, fmt.Errorf("stat DB_PATH: %w", err))
	}
	var check *localCheck
	if exists {
		// The check (CPU, local disk) runs while the replica is asked
		// (network); no outcome comes before its own, and a damaged copy
		// is reported as such whatever the replica said.
		check = checkLocal(ctx, cfg.DBPath, cfg.RestoreTimeout)
		defer func() {
			if cerr := check.wait(); cerr != nil {
				res, err = Result{}, cerr
			}
		}()
		var done bool
		if local, done, err = keepAsIs(cfg, logger, target, url, check); err != nil {
			return Result{}, err
		}
		if done {
			return Result{Outcome: ltxstate.OutcomePresent, Duration: time.Since(start)}, nil
		}
	}
	// From here the replica decides, so it must be final: no writer may
	// still be stopping. The wait has its own bound (RESTORE_LEASE_WAIT);
	// RESTORE_TIMEOUT starts after it.
	if err := awaitWriter(ctx, cfg, logger); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.RestoreTimeout)
	defer cancel()

	var src *source
	if exists {
		var done bool
		src, done, err = existing(ctx, cfg, logger, target, url, local, check)
		if err != nil {
			return Result{}, err
		}
		if done {
			return Result{Outcome: ltxstate.OutcomePresent, Duration: time.Since(start)}, nil
		}
		if err := check.wait(); err != nil {
			return Result{}, err // a damaged copy is never moved aside unasked
		}
		if res.MovedAside, err = moveAside(cfg.DBPath, logger); err != nil {
			return Result{}, err
		}
	}

	if src == nil {
		var err error
		if src, err = openSource(ctx, cfg, logger, target); err != nil {
			return Result{}, err
		}
	}
	if src.contents.Empty() {
		return proveNew(ctx, cfg, logger, src)
	}
	src.limits = lim
	if err := checkSpace(ctx, src, cfg.DBPath); err != nil {
		return Result{}, err
	}

	tmp, err := newTempPath(cfg.DBPath)
	if err != nil {
		return Result{}, err
	}
	defer removeAll(tmp)
	logger.Info("restoring", "target", target.String(), "txid", src.txid.String(), "total_bytes", src.size, "v3", !src.contents.LTX)
	planned := time.Since(start) // lease wait, listing and plan
	f, err := fetchPlanned(ctx, cfg, logger, target, src, tmp, true)
	if err != nil {
		return Result{}, err
	}
	res.Outcome, res.TXID, res.Bytes = ltxstate.OutcomeRestored, f.TXID, f.Size
	markerStart := time.Now()
	// The marker goes first: a crash after the rename must not leave a
	// restored database without the marker the sidecar's lineage guard
	// needs. A failed install removes it again.
	m := ltxstate.Marker{ReplicaURL: url, TXID: uint64(res.TXID), Outcome: res.Outcome,
		Duration: time.Since(start).Seconds(), Bytes: res.Bytes, Time: time.Now().UTC(),
		PositionTime: f.Time, Downloaded: f.Downloaded, MovedAside: res.MovedAside}
	if f.L0Checksum != 0 {
		m.L0Checksum, m.L0File = f.L0Checksum.String(), f.L0File
	}
	if err := ltxstate.WriteMarker(cfg.DBPath, m); err != nil {
		return Result{}, sysexit.New(sysexit.CantCreate, err)
	}
	if err := chown(cfg, tmp, ltxstate.MarkerPath(cfg.DBPath)); err != nil {
		os.Remove(ltxstate.MarkerPath(cfg.DBPath))
		return Result{}, err
	}
	markerDone := time.Now()
	if err := install(tmp, cfg.DBPath); err != nil {
		os.Remove(ltxstate.MarkerPath(cfg.DBPath))
		return Result{}, err
	}
	res.Duration = time.Since(start)
	// Where the time went, so that `make bench` and an operator can tell a
	// slow store from a slow disk: plan (lease wait, listing), download
	// (download, decode, write; the last plan's), fsync of the file (beside
	// the check: they overlap), check, marker (the L0 checksum it records,
	// writing it), install (rename, fsync of the directory).
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	logger.Info("restored", "txid", res.TXID.String(), "position_time", f.Time.Format(ltxstate.TimeFormat),
		"bytes", res.Bytes, "downloaded_bytes", f.Downloaded, "duration", ms(res.Duration),
		"plan_duration", ms(planned), "download_duration", ms(f.Download), "fsync_duration", ms(f.Fsync),
		"check", cfg.RestoreIntegrityCheck, "check_duration", ms(f.Check),
		"marker_duration", ms(f.Marker+markerDone.Sub(markerStart)), "install_duration", ms(time.Since(markerDone)))
	return res, nil
}

// localCheck is the integrity check of a database already at DB_PATH.
type localCheck struct {
	done chan struct{}
	err  error
}

// checkLocal starts the check of the database at path, bounded by timeout
// as the rest of the decision is (RESTORE_TIMEOUT).
func checkLocal(ctx context.Context, path string, timeout time.Duration) *localCheck {
	c := &localCheck{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		switch err := verify.Check(ctx, path, verify.Quick); {
		case err == nil:
		case errors.Is(err, verify.ErrCorrupt):
			c.err = sysexit.New(sysexit.DataErr, fmt.Errorf("existing database %s: %w; move it aside to restore from the replica", path, err))
		default: // cut short by the deadline or a signal: no proof of damage
			c.err = classifyRestore(ctx, fmt.Errorf("check the existing database %s: %w", path, err), sysexit.CantCreate)
		}
	}()
	return c
}

// wait returns the check's error once it has finished.
func (c *localCheck) wait() error {
	<-c.done
	return c.err
}

// keepAsIs decides about a database already at DB_PATH without the
// replica: done means leave it as it is (once its check passes). It reads
// the local state (ltxstate.Local: what the restore marker and
// Litestream's meta directory say) for existing. With neither (a database
// the app created and no sidecar ever replicated), there is nothing to
// compare: it is kept, without a network call. A point-in-time target
// never replaces an existing database.
func keepAsIs(cfg *config.Config, logger *slog.Logger, target Target, url string, check *localCheck) (ltxstate.Local, bool, error) {
	// Unreadable local state counts as none: the marker may still say.
	local, _ := ltxstate.ReadLocal(cfg.DBPath)
	pos := local.Position(url)
	if pos != 0 && target.IsLatest() {
		return local, false, nil
	}
	if err := check.wait(); err != nil {
		return local, true, err
	}
	if pos == 0 {
		logger.Info("database already present, leaving it untouched", "reason", "no local replication position to compare with the replica")
		return local, true, nil
	}
	logger.Info("database already present, leaving it untouched", "local_txid", pos.String(), "reason", "a point-in-time target never replaces an existing database")
	return local, true, nil
}

// existing compares a database already at DB_PATH, whose local state is
// local, with the replica. done means leave it as it is; otherwise the
// replica is ahead of it (a stale copy left on a node after a failover)
// or holds another history, and src is the replica to restore from.
func existing(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, url string, local ltxstate.Local, check *localCheck) (*source, bool, error) {
	pos := local.Position(url)
	// A copy that may be stale must not start the app while the replica
	// cannot be asked: writes on it would fork the history.
	src, err := openSourceAt(ctx, cfg, logger, target, &source{url: url, tipL0: local.TipL0(url)})
	if err != nil {
		return nil, true, fmt.Errorf("compare the existing database (txid %s) with the replica: %w", pos, err)
	}
	if src.handover {
		if err := handoverKept(ctx, cfg.DBPath, url, src); err != nil {
			return nil, true, err
		}
		if err := check.wait(); err != nil {
			return nil, true, err
		}
		logger.Info("database already present, leaving it untouched", "local_txid", pos.String(), "replica_txid", src.txid.String(),
			"reason", "it holds the latest position of the history its sidecar moved aside; that sidecar starts the new history from it")
		return nil, true, nil
	}
	if src.contents.LTX && src.txid <= pos {
		why, err := diverged(ctx, cfg.DBPath, url, src)
		if err != nil {
			return nil, true, classifyRestore(ctx, fmt.Errorf("compare the existing database (txid %s) with the replica: %w", pos, err), sysexit.Unavailable)
		}
		if why != "" {
			logger.Warn("local database has diverged from the replica", "local_txid", pos.String(), "replica_txid", src.txid.String(), "reason", why)
			return src, false, nil
		}
	}
	if !src.contents.LTX || src.txid <= pos {
		if err := check.wait(); err != nil {
			return nil, true, err
		}
		logger.Info("database already present, leaving it untouched", "local_txid", pos.String(), "replica_txid", src.txid.String())
		return nil, true, nil
	}
	logger.Warn("local database is behind the replica", "local_txid", pos.String(), "replica_txid", src.txid.String())
	return src, false, nil
}

// proveNew applies RESTORE_IF_REPLICA_MISSING to a prefix proven empty.
func proveNew(ctx context.Context, cfg *config.Config, logger *slog.Logger, src *source) (Result, error) {
	hint := src.hint(ctx, logger)
	if cfg.RestoreIfReplicaMissing == config.IfMissingFail {
		msg := fmt.Sprintf("replica %s holds no backup and RESTORE_IF_REPLICA_MISSING=fail", src.url)
		if hint != "" {
			msg += "; " + hint
		}
		return Result{}, sysexit.New(sysexit.DataErr, errors.New(msg))
	}
	attrs := []any{"policy", cfg.RestoreIfReplicaMissing}
	if hint != "" {
		attrs = append(attrs, "hint", hint)
	}
	logger.Warn("replica holds no backup: the app will create a new database", attrs...)
	if err := os.MkdirAll(filepath.Dir(cfg.DBPath), 0o755); err != nil {
		return Result{}, sysexit.New(sysexit.CantCreate, fmt.Errorf("cannot create the directory of DB_PATH: %w", err))
	}
	m := ltxstate.Marker{ReplicaURL: src.url, Outcome: ltxstate.OutcomeNew, Time: time.Now().UTC()}
	if err := ltxstate.WriteMarker(cfg.DBPath, m); err != nil {
		return Result{}, sysexit.New(sysexit.CantCreate, err)
	}
	if err := chown(cfg, ltxstate.MarkerPath(cfg.DBPath)); err != nil {
		return Result{}, err
	}
	return Result{Outcome: ltxstate.OutcomeNew}, nil
}

// classifyRestore maps a failed restore to an exit code; fallback is the
// code of an error that is neither the deadline nor the local disk.
func classifyRestore(ctx context.Context, err error, fallback int) error {
	switch {
	case ctx.Err() != nil:
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("RESTORE_TIMEOUT passed: %w", err))
	case errors.Is(err, verify.ErrCorrupt), errors.Is(err, ltxrestore.ErrCorrupt):
		return sysexit.New(sysexit.DataErr, err)
	case isWriteError(err):
		return sysexit.New(sysexit.CantCreate, err)
	default:
		return sysexit.New(fallback, err)
	}
}
