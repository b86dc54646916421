package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// newTempPath returns an unused path in DB_PATH's directory for the
// restore to write to; creating (and removing) a file there first proves the
// directory is writable before any byte is downloaded.
func newTempPath(dbPath string) (string, error) {
	dir, name := filepath.Split(dbPath)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", sysexit.New(sysexit.CantCreate, fmt.Errorf("cannot create the directory of DB_PATH: %w", err))
	}
	f, err := os.CreateTemp(dir, "."+name+".restore-*")
	if err != nil {
		return "", sysexit.New(sysexit.CantCreate, fmt.Errorf("cannot write in the directory of DB_PATH: %w", err))
	}
	p := f.Name()
	f.Close()
	os.Remove(p)
	return p, nil
}

// syncBeside fsyncs the file at path on a goroutine of its own; wait
// returns how long that took and its error.
func syncBeside(path string) (wait func() (time.Duration, error)) {
	done := make(chan struct{})
	var d time.Duration
	var err error
	go func() {
		defer close(done)
		start := time.Now()
		f, oerr := os.OpenFile(path, os.O_RDWR, 0)
		if oerr != nil {
			err = oerr
		} else {
			err = errors.Join(f.Sync(), f.Close())
		}
		d = time.Since(start)
	}()
	return func() (time.Duration, error) { <-done; return d, err }
}

// install moves the checked, fsynced temp file to dbPath and fsyncs the
// directory, so a crash leaves either nothing or the whole file.
func install(tmp, dbPath string) error {
	if err := os.Rename(tmp, dbPath); err != nil {
		return sysexit.New(sysexit.CantCreate, fmt.Errorf("install restored file: %w", err))
	}
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return sysexit.New(sysexit.CantCreate, fmt.Errorf("fsync directory of DB_PATH: %w", err))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// removeAll removes a temp database and everything SQLite or Litestream may
// have put beside it.
func removeAll(p string) {
	for _, suffix := range []string{"", ".tmp", "-wal", "-shm", "-journal"} {
		os.Remove(p + suffix)
	}
}

// isWriteError reports errors of the local filesystem: full, read-only,
// not permitted.
func isWriteError(err error) bool {
	var pe *fs.PathError
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) ||
		(errors.As(err, &pe) && errors.Is(err, fs.ErrPermission))
}
