package dbfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Free space on the filesystem of a database: one home for restore's
// refusal of a database that cannot fit and the sidecar's warning when
// Litestream could not stage a snapshot (upstream #1310).

// Free is the space an unprivileged process may still write on the
// filesystem holding dir (what df shows as available: root's reserve left
// out, since the app and the sidecar rarely run as root).
func Free(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// StageSpare is what SnapshotNeed adds to the database and its WAL: the
// LTX header and trailer, the page index, the directory entries.
const StageSpare = 1 << 20

// SnapshotNeed is the free space Litestream needs beside dbPath to stage a
// full snapshot: it writes every page of the database, as of its WAL, to
// one LTX file under .<name>-litestream/ltx/0/ before it uploads it (the
// first sync of a new history, and after a WAL discontinuity). Those pages
// are at most the database file and its -wal together; LZ4 shrinks them,
// except data that does not compress, which can take a few per cent more.
// A database that does not exist yet needs nothing.
func SnapshotNeed(dbPath string) (int64, error) {
	var need int64
	for _, p := range []string{dbPath, dbPath + "-wal"} {
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return 0, err
		}
		need += fi.Size()
	}
	if need == 0 {
		return 0, nil
	}
	return need + StageSpare, nil
}

// Space is the free space of a database's filesystem against what a
// snapshot of it needs.
type Space struct {
	Dir        string // the directory of DB_PATH
	Free, Need int64
}

// Short reports whether a snapshot would not fit.
func (s Space) Short() bool { return s.Free < s.Need }

// CheckSpace measures dbPath's Space.
func CheckSpace(dbPath string) (Space, error) {
	s := Space{Dir: filepath.Dir(dbPath)}
	var err error
	if s.Need, err = SnapshotNeed(dbPath); err != nil {
		return s, err
	}
	s.Free, err = Free(s.Dir)
	return s, err
}

// Bytes is n bytes in binary units, for a person: "6.3 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
