package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// diverged says why a local copy whose position is at or above the
// replica's does not hold the replica's history ("" when it does, or when
// nothing can be proven either way: the replica's newest position is a
// compacted file only). A position is a number: a copy that went on
// writing on a node cut off from the store, after another copy took over,
// is "ahead" with another history. The proof is the one the sidecar's
// lineage guard uses (ltxstate.Evidence.Prove).
func diverged(ctx context.Context, dbPath, url string, src *source) (string, error) {
	e, err := ltxstate.Gather(ctx, src.listings(), dbPath, url, src.txid)
	switch {
	case err != nil:
		return "", err
	case e.LocalErr != nil:
		return "", e.LocalErr
	case e.RemoteL0 == nil || e.Prove() != ltxstate.Unproven:
		return "", nil
	}
	return fmt.Sprintf("neither Litestream's local state nor the restore marker holds the replica's file at position %s (checksum %s): another copy wrote that history", e.Remote, e.RemoteSum), nil
}

// handoverKept decides about a database present while the replica's
// latest backup is a history a sidecar moved aside (src.handover): nil
// when the database provably holds that history's newest position (its
// sidecar recorded it in the marker before the move, or Litestream's local
// state still holds that file), so that it may go on; otherwise exit 65,
// with the database left as it is. It is never moved aside: it may be the
// copy that went on, with commits that history lacks, and no proof either
// way.
func handoverKept(ctx context.Context, dbPath, url string, src *source) error {
	e, err := ltxstate.Gather(ctx, src.listings(), dbPath, url, src.txid)
	if err != nil {
		return classifyRestore(ctx, fmt.Errorf("compare the existing database with %s: %w", src.url, err), sysexit.Unavailable)
	}
	if e.LocalErr == nil && e.RemoteL0 != nil && e.Prove() != ltxstate.Unproven {
		return nil
	}
	return sysexit.Errorf(sysexit.DataErr, "replica %s holds no live backup: its latest is the history at %s, which a sidecar moved aside to start a new one and stopped before that one's first snapshot; "+
		"the database at %s does not provably hold that history's position %s (it may hold more, or another copy's writes), so it is neither used nor replaced: "+
		"start the sidecar on it if it is the copy that went on (it uploads the new history), or move it aside and run restore again to restore that history", url, src.url, dbPath, src.txid)
}

// moveAside renames the stale database, its -wal and -shm, Litestream's
// meta directory and our marker to <name>.stale-<UTC time><suffix> in the
// same directory. Nothing is deleted: an operator can still look at it.
// It returns the new path of the database.
func moveAside(dbPath string, logger *slog.Logger) (string, error) {
	stamp := ltxstate.HistoryStamp(time.Now())
	aside := dbPath + ".stale-" + stamp
	moves := [][2]string{
		{dbPath, aside},
		{dbPath + "-wal", aside + "-wal"},
		{dbPath + "-shm", aside + "-shm"},
		{ltxstate.MetaDir(dbPath), aside + ".litestream"},
		{ltxstate.MarkerPath(dbPath), aside + ".restore.json"},
	}
	for _, m := range moves {
		if err := os.Rename(m[0], m[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", sysexit.New(sysexit.CantCreate, fmt.Errorf("move stale database aside: %w", err))
		}
	}
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return "", sysexit.New(sysexit.CantCreate, fmt.Errorf("fsync directory of DB_PATH: %w", err))
	}
	logger.Warn("STALE LOCAL DATABASE MOVED ASIDE: the replica is ahead of it or holds another copy's history (failover?); restoring", "moved_to", aside)
	return aside, nil
}
