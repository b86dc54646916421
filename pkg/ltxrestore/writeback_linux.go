package ltxrestore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate gives the output its final size with its blocks allocated
// up front: a full disk fails here, before any download, and the writes
// that follow fill allocated blocks instead of allocating as they go
// (ext4's delayed allocation serialises them). Filesystems without
// fallocate get a sparse file.
func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return f.Truncate(size)
	}
	return err
}

// writeback starts writing a range just written to disk without waiting
// for it, so that dirty pages do not pile up to the kernel's throttling
// limit during the download and the final fsync has little left to do.
// It is advice: a failure shows at the fsync.
func writeback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
