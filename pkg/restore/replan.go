package restore

import (
	"context"
	"errors"
	"log/slog"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
)

// errVanished: an object of the restore plan was deleted between planning
// and reading it. The sidecar's compaction replaces level-0 files by a
// higher level's and its retention then deletes them, and retention
// deletes snapshots older than a newer one (upstream litestream#1270):
// planning again finds the files that replaced them.
var errVanished = errors.New("an object of the restore plan vanished (the sidecar's compaction or retention removed it)")

// maxReplans bounds how often one restore plans again; the deadline
// (RESTORE_TIMEOUT) bounds it too.
const maxReplans = 3

// fetchPlanned is fetch, planning again within the deadline when an object
// of the plan vanished under it.
func fetchPlanned(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, src *source, out string) (fetched, error) {
	for attempt := 1; ; attempt++ {
		f, err := fetch(ctx, src, target, out, cfg.RestoreIntegrityCheck, logger)
		if !errors.Is(err, errVanished) || attempt > maxReplans || ctx.Err() != nil {
			return f, err
		}
		logger.Warn("planning the restore again", "attempt", attempt, "reason", err.Error())
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
		logger.Info("restoring", "target", target.String(), "txid", src.txid.String(), "total_bytes", src.size, "replanned", attempt)
	}
}
