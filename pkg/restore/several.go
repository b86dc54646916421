package restore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// RunAll is init mode for every database DB_PATH names (config.Each). One
// database: Run. Several: each is decided on its own, exactly as Run
// decides one, up to maxRestoring at once, sharing one ltxrestore.Limits,
// so that requests in flight and memory do not grow with their number.
// Results come in DB_PATH's order. The error is nil only when every
// database is ready; otherwise a sysexit.Parts error: one line per failing
// database, naming it, and the most severe of their codes.
func RunAll(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target) ([]Result, error) {
	if err := bucket.CheckLocalDir(cfg); err != nil {
		return nil, err
	}
	cfgs := cfg.Each()
	if len(cfgs) == 1 {
		res, err := Run(ctx, cfgs[0], logger, target)
		return []Result{res}, err
	}
	if err := severalTarget(target); err != nil {
		return nil, err
	}
	lim, turns := ltxrestore.DefaultLimits(), make(chan struct{}, maxRestoring)
	results := make([]Result, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, one := range cfgs {
		wg.Go(func() {
			defer takeTurn(ctx, turns)()
			results[i], errs[i] = run(ctx, one, logger, target, lim)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", one.DBPath, errs[i])
			}
		})
	}
	wg.Wait()
	return results, sysexit.Parts(errs...)
}

// VerifyAll is --verify for every database DB_PATH names, in parallel
// under one Limits; with one (or DB_PATH unset) it is Verify of
// REPLICA_URL. With several, output is a directory that gets one file per
// database, named as in DB_PATH. Every report that was made is returned,
// in DB_PATH's order, whatever the others did.
func VerifyAll(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, output string) ([]*Report, error) {
	if err := bucket.CheckLocalDir(cfg); err != nil {
		return nil, err
	}
	cfgs := cfg.Each()
	if len(cfgs) == 1 {
		rep, err := Verify(ctx, cfg, logger, target, output)
		if rep == nil {
			return nil, err
		}
		return []*Report{rep}, err
	}
	if err := severalTarget(target); err != nil {
		return nil, err
	}
	if output != "" {
		if _, err := os.Stat(output); err == nil {
			return nil, sysexit.Errorf(sysexit.CantCreate, "--output %s already exists; with several databases it names a new directory", output)
		}
		if err := os.MkdirAll(output, 0o755); err != nil {
			return nil, sysexit.New(sysexit.CantCreate, fmt.Errorf("--output: %w", err))
		}
	}
	lim, turns := ltxrestore.DefaultLimits(), make(chan struct{}, maxRestoring)
	reps := make([]*Report, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, one := range cfgs {
		out := ""
		if output != "" {
			out = filepath.Join(output, filepath.Base(one.DBPath))
		}
		wg.Go(func() {
			defer takeTurn(ctx, turns)()
			reps[i], errs[i] = verifyOne(ctx, one, logger.With("db", filepath.Base(one.DBPath)), target, out, lim)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", one.ReplicaURL, errs[i])
			}
		})
	}
	wg.Wait()
	var made []*Report
	for _, r := range reps {
		if r != nil {
			made = append(made, r)
		}
	}
	return made, sysexit.Parts(errs...)
}

// maxRestoring bounds how many databases restore at once. Their downloads
// share one ltxrestore.Limits, but each database being restored holds
// memory of its own besides (its writers' buffers, its integrity check's
// page cache, and the Go heap that grows with them): measured with make
// bench, three × 300 MB peaked at 105 MB RSS and six × 300 MB at 148 MB.
// Three at a time keeps the peak at three's, however many DB_PATH lists,
// for little time: the shared request slots, not the number of databases,
// bound the download rate.
const maxRestoring = 3

// takeTurn waits for one of turns' places and returns its release; with
// the deadline passed it returns at once, so that run meets the deadline
// itself and says so in its own words.
func takeTurn(ctx context.Context, turns chan struct{}) (release func()) {
	select {
	case turns <- struct{}{}:
		return func() { <-turns }
	case <-ctx.Done():
		return func() {}
	}
}

// severalTarget refuses what cannot apply to several databases at once: a
// TXID numbers one database's history only. A time applies to each.
func severalTarget(t Target) error {
	if t.TXID != 0 {
		return sysexit.Errorf(sysexit.Usage, "--txid names a position in one database's history; with several databases in DB_PATH use --timestamp, or restore one with REPLICA_URL=<REPLICA_URL>/<file name>")
	}
	return nil
}
