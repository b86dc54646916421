package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/replica"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// localPosition is the highest TXID the local copy at dbPath is known to
// hold: the larger of the restore marker's TXID (when it names the same
// replica) and the newest LTX file in Litestream's meta directory
// (.<name>-litestream/ltx/<level>/), which the sidecar writes as it
// replicates. Zero means no position information at all.
func localPosition(dbPath, url string) ltx.TXID {
	var pos ltx.TXID
	if m, err := replica.ReadMarker(dbPath); err == nil && m.ReplicaURL == url {
		pos = ltx.TXID(m.TXID)
	}
	levels, _ := os.ReadDir(filepath.Join(replica.MetaDir(dbPath), "ltx"))
	for _, lvl := range levels {
		ents, _ := os.ReadDir(filepath.Join(replica.MetaDir(dbPath), "ltx", lvl.Name()))
		for _, e := range ents {
			if _, max, err := ltx.ParseFilename(e.Name()); err == nil && max > pos {
				pos = max
			}
		}
	}
	return pos
}

// diverged says why a local copy whose position is at or above the
// replica's does not hold the replica's history ("" when it does, or when
// nothing can be proven either way). A position is a number: a copy that
// went on writing on a node cut off from the store, after another copy
// took over, is "ahead" with another history (the sidecar's lineage guard,
// pkg/replicate/lineage.go, makes the same check). The proof is the
// replica's newest L0 file: Litestream's local copy of it, or the restore
// marker's checksum of it at exactly that position.
func diverged(ctx context.Context, dbPath, url string, src *source) (string, error) {
	tip, remote, err := replica.L0At(ctx, src.client, src.txid)
	if err != nil || tip == nil {
		return "", err
	}
	if local, ok, err := replica.LocalFileChecksum(dbPath, tip.MinTXID, tip.MaxTXID); err != nil {
		return "", err
	} else if ok && local == remote {
		return "", nil
	}
	m, err := replica.ReadMarker(dbPath)
	if err == nil && m.ReplicaURL == url && ltx.TXID(m.TXID) == tip.MaxTXID {
		if m.MatchesL0(remote) {
			return "", nil // restored at exactly this position
		}
	}
	return fmt.Sprintf("neither Litestream's local state nor the restore marker holds the replica's file at position %s (checksum %s): another copy wrote that history", tip.MaxTXID, remote), nil
}

// moveAside renames the stale database, its -wal and -shm, Litestream's
// meta directory and our marker to <name>.stale-<UTC time><suffix> in the
// same directory. Nothing is deleted: an operator can still look at it.
// It returns the new path of the database.
func moveAside(dbPath string, logger *slog.Logger) (string, error) {
	stamp := time.Now().UTC().Format("20060102T150405Z")
	aside := dbPath + ".stale-" + stamp
	moves := [][2]string{
		{dbPath, aside},
		{dbPath + "-wal", aside + "-wal"},
		{dbPath + "-shm", aside + "-shm"},
		{replica.MetaDir(dbPath), aside + ".litestream"},
		{replica.MarkerPath(dbPath), aside + ".restore.json"},
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
