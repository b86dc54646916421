package restore

import (
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
	logger.Warn("STALE LOCAL DATABASE MOVED ASIDE: the replica is ahead of it (failover?); restoring", "moved_to", aside)
	return aside, nil
}
