package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// errServerDown: the HTTP server stopped serving.
var errServerDown = errors.New("stopped serving")

// runSeveral is sidecar mode for several databases (DB_PATH lists them;
// docs/design.md "Several databases"): one process, one HTTP server, and a
// runner per database that goes through the whole sequence on its own,
// each replicating to its own REPLICA_URL/<file name>.
//
//   - Leases are taken in DB_PATH's order (awaitTurn): two sidecars racing
//     for the same set wait on the first database, never hold one each.
//   - A database refused as data (exit 65: lineage conflict, behind the
//     replica, not a SQLite file) is held unready, named in /readyz, while
//     the others replicate on; a SIGTERM then syncs them and exits 65.
//   - Any other failure of one (lease lost 75, the store that cannot be
//     opened 69, the HTTP server) stops them all, each with its final
//     sync, so that the orchestrator's restart runs the sequence again,
//     as it does for one database.
//
// The exit code is the most severe of the databases' (sysexit.Parts).
func runSeveral(ctx context.Context, cfg *config.Config, logger *slog.Logger, signals <-chan os.Signal) error {
	cfgs := cfg.Each()
	names := make([]string, len(cfgs))
	for i, one := range cfgs {
		names[i] = filepath.Base(one.DBPath)
	}
	m, series := telemetry.NewMetricsFor(names)
	runners := make([]*runner, len(cfgs))
	sigs := make([]chan os.Signal, len(cfgs))
	var prev chan struct{}
	for i, one := range cfgs {
		st := &state{cfgSync: one.SyncInterval, dbPath: one.DBPath, url: one.Location().String(), metrics: series[i]}
		var held func() bool
		if leased(one) {
			held = st.leaseHeld
		}
		series[i].Observe(st.isReady, held, st.behind)
		observeNode(series[i], st, held != nil)
		st.set(StateStarting, "")
		sigs[i] = make(chan os.Signal, 1)
		runners[i] = &runner{cfg: one, logger: logger.With("db", names[i]), st: st, signals: sigs[i], turn: prev, acquired: make(chan struct{})}
		prev = runners[i].acquired
	}
	status := func() telemetry.Status {
		all := make([]telemetry.Status, len(runners))
		for i, r := range runners {
			all[i] = r.st.status()
		}
		return telemetry.Combine(all)
	}
	srv, err := telemetry.Listen(cfg.MetricsAddr, m, status, logger)
	if err != nil {
		return sysexit.Errorf(sysexit.Usage, "invalid METRICS_ADDR: cannot listen on %s: %v", cfg.MetricsAddr, err)
	}
	logger.Info("serving metrics and health", "addr", srv.Addr(), "databases", len(runners))

	// Every runner hears every signal, and a failure that stops all;
	// stopped stays closed for runners that wait after their own end.
	stopped := make(chan struct{})
	var stopOnce sync.Once
	stopAll := func(sig os.Signal) {
		stopOnce.Do(func() { close(stopped) })
		for _, c := range sigs {
			select {
			case c <- sig:
			default:
			}
		}
	}
	go func() {
		for sig := range signals {
			stopAll(sig)
		}
	}()
	serverDown := make(chan error)
	go func() {
		if err := srv.Serve(); err != nil {
			logger.Error("metrics server failed", "error", err.Error())
		}
		close(serverDown)
	}()

	errs := make([]error, len(runners))
	var wg sync.WaitGroup
	for i, r := range runners {
		wg.Go(func() {
			defer r.markAcquired() // a runner that ends never holds up the next
			err := r.run(ctx, serverDown)
			switch {
			case err == nil:
			case sysexit.Code(err) == sysexit.DataErr:
				r.logger.Error("this database is not replicated; the others go on", "error", err.Error())
				select {
				case <-ctx.Done():
				case <-stopped:
				}
			default:
				r.logger.Error("stopping every database: the orchestrator's restart runs the sequence again", "error", err.Error())
				stopAll(syscall.SIGTERM)
			}
			if err = errors.Join(err, r.shutdown(ctx)); err != nil {
				errs[i] = fmt.Errorf("%s: %w", r.cfg.DBPath, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(sysexit.Parts(errs...), stopServer(ctx, srv))
}
