//go:build !linux

package ltxrestore

import "os"

// preallocate gives the output its final size (a sparse file).
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }

// writeback is a no-op where sync_file_range does not exist; the final
// fsync writes everything.
func writeback(*os.File, int64, int64) {}
