// Package replicate is sidecar mode: wait for the app's database, replicate
// it continuously through the Litestream library, report through
// pkg/telemetry, and on SIGTERM sync what the app committed before exiting
// (DESIGN.md "Sidecar mode: the guarantees").
package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/benbjohnson/litestream"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/replica"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// pollInterval is how often the sidecar looks for the database file and
// refreshes positions for /status and the lag metric.
const pollInterval = 250 * time.Millisecond

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

	store, runErr := start(ctx, cfg, logger, st, signals)
	if runErr == nil {
		runErr = loop(ctx, store.DBs()[0], logger, st, signals, serveErr)
	}
	return errors.Join(runErr, shutdown(ctx, cfg, logger, st, store, srv))
}

// start waits for the database, then opens replication. It returns a nil
// store and nil error when a signal arrived before there was anything to do.
func start(ctx context.Context, cfg *config.Config, logger *slog.Logger, st *state, signals <-chan os.Signal) (*litestream.Store, error) {
	if st.set(StateWaitingDB, "") {
		logger.Info("waiting for the database to appear", "db", cfg.DBPath)
	}
	for {
		if _, err := os.Stat(cfg.DBPath); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case sig := <-signals:
			logger.Info("signal received before the database appeared", "signal", sig.String())
			return nil, nil
		case <-time.After(pollInterval):
		}
	}

	if mk, err := replica.ReadMarker(cfg.DBPath); err == nil {
		st.mu.Lock()
		st.marker = &mk
		st.mu.Unlock()
		st.metrics.RestoreDuration.Set(mk.Duration)
		st.metrics.RestoreInfo.WithLabelValues(mk.Outcome).Set(1)
	}

	client := &observedClient{ReplicaClient: replica.NewClient(cfg, logger), onWrite: st.wrote}
	store, _ := replica.NewStore(cfg, client, logger)
	if err := store.Open(ctx); err != nil {
		st.set(StateFailed, err.Error())
		return nil, sysexit.New(sysexit.Unavailable, fmt.Errorf("start replication of %s to %s: %w", cfg.DBPath, st.url, err))
	}
	st.set(StateReplicating, "")
	logger.Info("replicating", "db", cfg.DBPath, "replica", st.url, "sync_interval", cfg.SyncInterval.String())
	return store, nil
}

// loop refreshes positions until a signal, ctx's end, or a server failure.
func loop(ctx context.Context, db *litestream.DB, logger *slog.Logger, st *state, signals <-chan os.Signal, serveErr <-chan error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig := <-signals:
			logger.Info("signal received, final sync", "signal", sig.String())
			return nil
		case err := <-serveErr:
			return fmt.Errorf("metrics server: %w", err)
		case now := <-t.C:
			local, err := db.Pos()
			if err != nil || local.TXID == 0 {
				// Litestream initialises a DB lazily, on its first monitor
				// tick, and DB.Close skips the final sync of a DB it never
				// initialised: a SIGTERM in that window would lose every
				// commit. So the sidecar initialises it itself, at once.
				initialSync(ctx, db, logger, st)
				continue
			}
			st.observe(local.TXID, db.Replica.Pos().TXID, now)
		}
	}
}

// initialSync reads the WAL into LTX and uploads it, bounded by the sync
// interval so the loop stays responsive to signals.
func initialSync(ctx context.Context, db *litestream.DB, logger *slog.Logger, st *state) {
	ctx, cancel := context.WithTimeout(ctx, max(st.cfgSync, 5*time.Second))
	defer cancel()
	if err := db.SyncAndWait(ctx); err != nil {
		if st.set(StateReplicating, "first sync pending: "+err.Error()) {
			logger.Warn("first sync failed, retrying", "error", err.Error())
		}
		return
	}
	st.set(StateReplicating, "")
}

// shutdown is the timed sequence: final sync and close of the store (which
// retries within SHUTDOWN_TIMEOUT), then the HTTP server, in reverse order of
// opening. It runs even if ctx was cancelled.
func shutdown(ctx context.Context, cfg *config.Config, logger *slog.Logger, st *state, store *litestream.Store, srv *telemetry.Server) error {
	st.set(StateStopping, "shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if store != nil {
		start := time.Now()
		if err := store.Close(sctx); err != nil {
			errs = append(errs, sysexit.New(sysexit.Unavailable, fmt.Errorf("final sync within SHUTDOWN_TIMEOUT=%s: %w", cfg.ShutdownTimeout, err)))
		} else {
			logger.Info("final sync done", "duration", time.Since(start).Round(time.Millisecond).String())
		}
	}
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("metrics server shutdown: %w", err))
	}
	return errors.Join(errs...)
}
