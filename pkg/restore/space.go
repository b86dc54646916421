package restore

import (
	"context"
	"path/filepath"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// spareBytes is what an install needs beside the database itself: the
// marker, the directory entries, SQLite's first -wal and -shm pages.
const spareBytes = 1 << 20

// checkSpace refuses, at once and before any download, a restore whose
// database cannot fit on DB_PATH's filesystem: failing after writing
// gigabytes wastes the whole RESTORE_TIMEOUT and says less. The size is
// the plan's last file's header (ltxrestore.PlanSize). A plan that cannot
// be sized (v0.3 backups) or a filesystem that cannot be asked goes on:
// the write itself still fails with 73.
func checkSpace(ctx context.Context, src *source, dbPath string) error {
	if len(src.plan) == 0 {
		return nil
	}
	size, err := ltxrestore.PlanSize(ctx, src.client, src.plan)
	if err != nil {
		return nil
	}
	free, err := dbfile.Free(filepath.Dir(dbPath))
	if err != nil {
		return nil
	}
	if need := size + spareBytes; free < need {
		return sysexit.Errorf(sysexit.CantCreate, "not enough space for the restore: the database is %s (%d bytes) and the filesystem of DB_PATH (%s) has %s free (%d bytes); give the volume at least %s",
			dbfile.Bytes(size), size, filepath.Dir(dbPath), dbfile.Bytes(free), free, dbfile.Bytes(need))
	}
	return nil
}
