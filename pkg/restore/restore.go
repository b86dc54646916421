// Package restore is init mode: decide whether DB_PATH may be used as it
// is, restored, or created new, and never let the app start on a lie
// (DESIGN.md "Init mode: the decision").
package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/replica"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// Result is what a run decided and did.
type Result struct {
	Outcome  string // replica.Outcome*
	TXID     ltx.TXID
	Bytes    int64
	Duration time.Duration
}

// Run is init mode. It returns nil only when DB_PATH is ready to use or the
// replica was proven empty under RESTORE_IF_REPLICA_MISSING=new.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger) (Result, error) {
	start := time.Now()
	url := cfg.Location().String()
	logger = logger.With("replica", url, "db", cfg.DBPath)

	if _, err := os.Stat(cfg.DBPath); err == nil {
		if err := verify.Check(ctx, cfg.DBPath, verify.Quick); err != nil {
			return Result{}, sysexit.New(sysexit.DataErr, fmt.Errorf("existing database %s: %w; move it aside to restore from the replica", cfg.DBPath, err))
		}
		logger.Info("database already present, leaving it untouched")
		return Result{Outcome: replica.OutcomePresent}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return Result{}, sysexit.New(sysexit.CantCreate, fmt.Errorf("stat DB_PATH: %w", err))
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.RestoreTimeout)
	defer cancel()

	contents, err := preflight(ctx, cfg, logger)
	if err != nil {
		return Result{}, err
	}
	if contents.Empty() {
		return proveNew(cfg, logger, url)
	}

	res, err := restoreInto(ctx, cfg, logger, contents)
	if err != nil {
		return Result{}, err
	}
	res.Duration = time.Since(start)
	m := replica.Marker{ReplicaURL: url, TXID: uint64(res.TXID), Outcome: res.Outcome,
		Duration: res.Duration.Seconds(), Bytes: res.Bytes, Time: time.Now().UTC()}
	if err := replica.WriteMarker(cfg.DBPath, m); err != nil {
		return Result{}, sysexit.New(sysexit.CantCreate, err)
	}
	logger.Info("restored", "txid", res.TXID.String(), "bytes", res.Bytes, "duration", res.Duration.Round(time.Millisecond).String())
	return res, nil
}

// preflight answers reachable / authorised / bucket / contents.
func preflight(ctx context.Context, cfg *config.Config, logger *slog.Logger) (bucket.Contents, error) {
	loc := cfg.Location()
	if loc.Scheme == "file" {
		return bucket.LocalContents(loc.Dir)
	}
	store, err := bucket.New(cfg)
	if err != nil {
		return bucket.Contents{}, err
	}
	return store.Preflight(ctx, logger)
}

// proveNew applies RESTORE_IF_REPLICA_MISSING to a prefix proven empty.
func proveNew(cfg *config.Config, logger *slog.Logger, url string) (Result, error) {
	if cfg.RestoreIfReplicaMissing == config.IfMissingFail {
		return Result{}, sysexit.Errorf(sysexit.DataErr, "replica %s holds no backup and RESTORE_IF_REPLICA_MISSING=fail", url)
	}
	logger.Warn("replica holds no backup: the app will create a new database", "policy", cfg.RestoreIfReplicaMissing)
	if err := os.MkdirAll(filepath.Dir(cfg.DBPath), 0o755); err != nil {
		return Result{}, sysexit.New(sysexit.CantCreate, fmt.Errorf("cannot create the directory of DB_PATH: %w", err))
	}
	m := replica.Marker{ReplicaURL: url, Outcome: replica.OutcomeNew, Time: time.Now().UTC()}
	if err := replica.WriteMarker(cfg.DBPath, m); err != nil {
		return Result{}, sysexit.New(sysexit.CantCreate, err)
	}
	return Result{Outcome: replica.OutcomeNew}, nil
}

// restoreInto restores the latest position into a temp file beside
// DB_PATH, checks it, and installs it atomically.
func restoreInto(ctx context.Context, cfg *config.Config, logger *slog.Logger, contents bucket.Contents) (Result, error) {
	tmp, err := newTempPath(cfg.DBPath)
	if err != nil {
		return Result{}, err
	}
	defer removeAll(tmp)

	client := replica.NewClient(cfg, logger)
	if err := client.Init(ctx); err != nil {
		return Result{}, sysexit.New(sysexit.Unavailable, fmt.Errorf("replica client: %w", err))
	}
	r := litestream.NewReplicaWithClient(nil, client)
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = tmp

	var txid ltx.TXID
	if contents.LTX {
		// Pin the plan's position so the marker names exactly what was restored.
		plan, err := litestream.CalcRestorePlan(ctx, client, 0, time.Time{}, logger)
		if err != nil {
			return Result{}, classifyRestore(ctx, fmt.Errorf("restore plan: %w", err))
		}
		txid = plan[len(plan)-1].MaxTXID
		opt.TXID = txid
	}
	if err := r.Restore(ctx, opt); err != nil {
		return Result{}, classifyRestore(ctx, fmt.Errorf("restore: %w", err))
	}
	if err := verify.Check(ctx, tmp, cfg.RestoreIntegrityCheck); err != nil {
		return Result{}, classifyRestore(ctx, err)
	}
	size, err := install(tmp, cfg.DBPath)
	if err != nil {
		return Result{}, err
	}
	return Result{Outcome: replica.OutcomeRestored, TXID: txid, Bytes: size}, nil
}

// classifyRestore maps a failed restore to an exit code.
func classifyRestore(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("RESTORE_TIMEOUT passed: %w", err))
	case errors.Is(err, verify.ErrCorrupt):
		return sysexit.New(sysexit.DataErr, err)
	case isWriteError(err):
		return sysexit.New(sysexit.CantCreate, err)
	default:
		return sysexit.New(sysexit.DataErr, err)
	}
}
