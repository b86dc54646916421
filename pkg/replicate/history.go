package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// keepHistoryAside is the first half of starting a new history: it moves
// the replica's LTX history to <prefix>/history/<UTC stamp>/ (copies
// first, then deletes, so a crash leaves duplicates, never a gap) and
// removes Litestream's local state beside DB_PATH. The next sync then
// writes a full snapshot of the database as it is. It returns where the
// old history went. latest says that the database goes on from that
// history: until the first snapshot, restore reads it there
// (ltxstate.HistoryPrevious; clearPrevious removes the note).
func keepHistoryAside(ctx context.Context, cfg *config.Config, logger *slog.Logger, latest bool) (string, error) {
	stamp := ltxstate.HistoryStamp(time.Now())
	loc := cfg.Location()
	var dest string
	switch loc.Scheme {
	case "file":
		dest = filepath.Join(loc.Dir, ltxstate.HistoryDir, stamp)
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return "", err
		}
		if latest {
			if err := bucket.MarkLocalPrevious(loc.Dir, dest); err != nil {
				return "", fmt.Errorf("move replica history aside: %w", err)
			}
		}
		if err := os.Rename(filepath.Join(loc.Dir, ltxstate.FileLTXDir), filepath.Join(dest, ltxstate.FileLTXDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("move replica history aside: %w", err)
		}
		dest = "file://" + dest
	default:
		store, err := bucket.New(cfg)
		if err != nil {
			return "", err
		}
		moved, err := store.MoveLevels(ctx, path.Join(loc.Prefix, ltxstate.HistoryDir, stamp), latest)
		if err != nil {
			return "", fmt.Errorf("move replica history aside: %w", bucket.Classify(err))
		}
		dest = fmt.Sprintf("s3://%s/%s/%s/%s", loc.Bucket, loc.Prefix, ltxstate.HistoryDir, stamp)
		logger.Info("replica history moved aside", "objects", moved, "to", dest, "latest_backup", latest && moved > 0)
	}
	return dest, ltxstate.RemoveLocal(cfg.DBPath)
}

// finishMove completes, under the lease, a move of the history that a
// sidecar began and did not finish (bucket.MoveLevels: it was stopped
// between the copies and the last delete), with the removal of
// Litestream's local state that followed it, so that the first sync is a
// full snapshot as that sidecar intended. The moved history is complete
// at its destination either way. Restore refuses such a prefix, so the
// sidecar that meets it is the one on that sidecar's volume.
func (r *runner) finishMove(ctx context.Context) error {
	if r.cfg.Location().Scheme != "s3" {
		return nil // a file:// history moves by one rename
	}
	store, err := bucket.New(r.cfg)
	if err != nil {
		return err
	}
	dest, err := store.FinishMove(ctx)
	if err != nil {
		return fmt.Errorf("finish the move of %s's history: %w", r.st.url, bucket.Classify(err))
	}
	if dest == "" {
		return nil
	}
	r.logger.Warn("a previous sidecar stopped part-way through moving the replica history aside: finished the move, the first sync is a full snapshot",
		"to", fmt.Sprintf("s3://%s/%s", store.Bucket, dest))
	return ltxstate.RemoveLocal(r.cfg.DBPath)
}

// clearPrevious removes the note that names a moved history as the latest
// backup (ltxstate.HistoryPrevious), once this sidecar's first sync has put
// its history in the levels: from then on they are the latest backup,
// whoever moved what aside before. Most starts find no note: one DELETE.
func clearPrevious(ctx context.Context, cfg *config.Config) error {
	loc := cfg.Location()
	if loc.Scheme == "file" {
		return bucket.ClearLocalPrevious(loc.Dir)
	}
	store, err := bucket.New(cfg)
	if err != nil {
		return err
	}
	return store.ClearPrevious(ctx)
}

// previousHistory is the history the note names, "" when there is none.
func previousHistory(ctx context.Context, cfg *config.Config) (string, error) {
	loc := cfg.Location()
	if loc.Scheme == "file" {
		return bucket.LocalPrevious(loc.Dir)
	}
	store, err := bucket.New(cfg)
	if err != nil {
		return "", err
	}
	return store.Previous(ctx)
}
