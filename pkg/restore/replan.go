package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
)

// errVanished: an object of the restore plan was deleted between planning
// and reading it. The sidecar's compaction replaces level-0 files by a
// higher level's and its retention then deletes them, and retention
// deletes snapshots older than a newer one (upstream litestream#1270):
// planning again finds the files that replaced them.
var errVanished = errors.New("an object of the restore plan vanished (the sidecar's compaction or retention removed it)")

// fetchPlanned is fetch (durable: see there), planning again when an
// object of the plan vanished under it, for as long as the deadline
// (RESTORE_TIMEOUT) allows. Only the deadline bounds it: each new plan
// starts from the newest snapshot, so it fails again only if that one too
// is deleted before it is read, and a count would turn a run of bad luck
// into a failed pod. When no plan can finish, because the sidecar deletes
// snapshots sooner than one downloads, the last line says so.
func fetchPlanned(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, src *source, out string, durable bool) (fetched, error) {
	vanished := 0
	for {
		start := time.Now()
		f, err := fetch(ctx, src, target, out, cfg.RestoreIntegrityCheck, durable, logger)
		if errors.Is(err, errVanished) {
			vanished++
		}
		if !errors.Is(err, errVanished) || ctx.Err() != nil {
			if vanished > 1 && (errors.Is(err, errVanished) || ctx.Err() != nil) {
				// Wrapped, not reclassified: the exit code stays the cause's.
				err = fmt.Errorf("%d restore plans lost an object to the sidecar's compaction or retention before they were read (the last after %s; RETENTION shorter than a restore takes?): %w",
					vanished, time.Since(start).Round(100*time.Millisecond), err)
			}
			return f, err
		}
		logger.Warn("planning the restore again", "attempt", vanished+1, "reason", err.Error())
		removeAll(out)
		next, perr := openSource(ctx, cfg, logger, target)
		if perr != nil {
			return f, perr
		}
		if next.contents.Empty() {
			return f, err // nothing left to plan from: report the vanishing
		}
		next.limits = src.limits
		src = next
		logger.Info("restoring", "target", target.String(), "txid", src.txid.String(), "total_bytes", src.size, "replanned", vanished)
	}
}
