package restore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// writerPoll is how often restore reads the lease while a writer holds it:
// one small GET, and the restore starts within this long of the release.
const writerPoll = time.Second

// awaitWriter waits while another writer holds the replica's lease. A pod
// deleted or evicted is replaced at once (a ReplicaSet does not wait for
// the old pod, nor does Nomad for a lost node): its app may still be
// committing and its sidecar's final sync is still to come. Restoring now
// would start the app on a copy older than that final sync. The holder
// releases the lease right after its final sync, so the release is the
// moment the replica is final.
//
// Two bounds: RESTORE_LEASE_WAIT for a writer that answers but does not
// stop (then exit 75: the orchestrator retries with its back-off), and
// RESTORE_TIMEOUT for a store that does not answer (then exit 69), as for
// the rest of the restore.
func awaitWriter(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	if cfg.Location().Scheme != "s3" {
		return nil // file:// replicas have no lease
	}
	store, err := bucket.New(cfg, bucket.OneAttempt) // this loop retries, and keeps the cause
	if err != nil {
		return err
	}
	url := cfg.Location().String()
	start := time.Now()
	var failingSince, lastLog time.Time
	var last error // the last read failure that was not the deadline
	waiting := false
	for {
		attempt := time.Now()
		rctx, cancel := context.WithTimeout(ctx, cfg.RestoreTimeout)
		doc, err := lease.Read(rctx, store)
		cancel()
		now := time.Now()
		switch {
		case err != nil && !bucket.Retryable(err):
			return err // denied (77), no such bucket (65)
		case err != nil:
			if failingSince.IsZero() {
				failingSince = attempt
			}
			if rctx.Err() == nil || last == nil {
				last = err
			}
			if now.Sub(failingSince) >= cfg.RestoreTimeout {
				return sysexit.New(sysexit.Unavailable, fmt.Errorf("RESTORE_TIMEOUT=%s passed reading the lease of %s from S3 endpoint %s; last: %w", cfg.RestoreTimeout, url, store.Endpoint(), last))
			}
			logger.Warn("cannot read the replica's lease yet, retrying", "error", err.Error())
		case !doc.Live(now):
			if waiting {
				logger.Info("the writer released the replica's lease: restoring its final state", "waited", now.Sub(start).Round(time.Millisecond).String())
			}
			return nil
		case lease.DeadOnVolume(cfg.DBPath, doc.Owner):
			logger.Info("the lease was left by this volume's own sidecar, which is not running: not waiting for it", "holder", doc.Owner)
			return nil
		case now.Sub(start) >= cfg.RestoreLeaseWait:
			return sysexit.New(sysexit.TempFail, fmt.Errorf(
				"another writer (%s) still holds the lease of %s after RESTORE_LEASE_WAIT=%s (lease until %s): its final sync may not have reached the replica, so restoring now could start the app on an old copy; exiting so that the orchestrator retries",
				doc.Owner, url, cfg.RestoreLeaseWait, doc.ExpiresAt.UTC().Format(time.RFC3339)))
		case !waiting:
			waiting, lastLog, failingSince = true, now, time.Time{}
			logger.Warn("another writer holds the replica's lease: waiting for it to stop and release it (its final sync) before restoring",
				"holder", doc.Owner, "lease_expires", doc.ExpiresAt.UTC().Format(time.RFC3339), "max_wait", cfg.RestoreLeaseWait.String())
		default:
			failingSince = time.Time{}
			if now.Sub(lastLog) >= 10*time.Second {
				lastLog = now
				logger.Info("still waiting for the writer to release the lease", "holder", doc.Owner,
					"lease_expires", doc.ExpiresAt.UTC().Format(time.RFC3339), "waited", now.Sub(start).Round(time.Second).String())
			}
		}
		select {
		case <-ctx.Done():
			return sysexit.New(sysexit.TempFail, fmt.Errorf("stopped while waiting for the writer holding the lease of %s: nothing was restored", url))
		case <-time.After(writerPoll):
		}
	}
}
