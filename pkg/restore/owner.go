package restore

import (
	"fmt"
	"os"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// chown gives the restored database and our marker to RESTORE_OWNER, so an
// app running as another user than the init container can open it for
// writing (SQLite also creates -wal and -shm beside it: the directory's
// owner is the operator's business, via fsGroup or the volume).
func chown(cfg *config.Config, paths ...string) error {
	uid, gid, ok := cfg.Owner()
	if !ok {
		return nil
	}
	for _, p := range paths {
		if err := os.Lchown(p, uid, gid); err != nil {
			return sysexit.New(sysexit.CantCreate, fmt.Errorf("RESTORE_OWNER %d:%d: %w", uid, gid, err))
		}
	}
	return nil
}
