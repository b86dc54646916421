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
// old history went.
func keepHistoryAside(ctx context.Context, cfg *config.Config, logger *slog.Logger) (string, error) {
	stamp := ltxstate.HistoryStamp(time.Now())
	loc := cfg.Location()
	var dest string
	switch loc.Scheme {
	case "file":
		dest = filepath.Join(loc.Dir, ltxstate.HistoryDir, stamp)
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return "", err
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
		moved, err := store.MoveLevels(ctx, path.Join(loc.Prefix, ltxstate.HistoryDir, stamp))
		if err != nil {
			return "", fmt.Errorf("move replica history aside: %w", bucket.Classify(err))
		}
		dest = fmt.Sprintf("s3://%s/%s/%s/%s", loc.Bucket, loc.Prefix, ltxstate.HistoryDir, stamp)
		logger.Info("replica history moved aside", "objects", moved, "to", dest)
	}
	if err := os.RemoveAll(ltxstate.MetaDir(cfg.DBPath)); err != nil {
		return dest, fmt.Errorf("remove local litestream state: %w", err)
	}
	return dest, nil
}
