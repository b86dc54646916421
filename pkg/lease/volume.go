package lease

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// VolumeID gives the lease an identity tied to the database's volume: a
// random ID kept beside the database (.<name>-sidecar-lease-id), flocked for
// the life of the process. A sidecar restarted after a crash (same pod or
// allocation, same volume) finds its predecessor's lease under the same ID
// and a free flock (the kernel dropped it with the dead process), so it
// takes the lease back at once instead of waiting out the TTL. A second live
// sidecar on the same file cannot take the flock, and waits like any
// other writer. It returns the ID, whether the flock is ours, and the file
// to keep open (closing it drops the flock).
func VolumeID(dbPath string) (id string, locked bool, f *os.File, err error) {
	p := idPath(dbPath)
	f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", false, nil, fmt.Errorf("lease id %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		locked = true
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return "", false, nil, fmt.Errorf("lock %s: %w", p, err)
	}
	id = readID(f)
	if id == "" && locked {
		var r [8]byte
		if _, err := rand.Read(r[:]); err != nil {
			f.Close()
			return "", false, nil, err
		}
		id = hex.EncodeToString(r[:])
		if _, err := f.WriteAt([]byte(id+"\n"), 0); err != nil {
			f.Close()
			return "", false, nil, fmt.Errorf("write lease id %s: %w", p, err)
		}
		_ = f.Sync()
	}
	return id, locked, f, nil
}

// DeadOnVolume reports whether owner is a sidecar of this volume that is
// no longer running: its id is the one kept beside dbPath and nobody holds
// that file's flock. restore asks it so that a pod or allocation restarted
// after a crash does not wait out a lease its own dead sidecar left. It
// never creates the id file.
func DeadOnVolume(dbPath, owner string) bool {
	f, err := os.Open(idPath(dbPath))
	if err != nil {
		return false
	}
	defer f.Close()
	id := readID(f)
	if id == "" || !strings.HasSuffix(owner, "/"+id) {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return false // a live sidecar holds it
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

// readID is the id kept in f ("" when none was written yet).
func readID(f *os.File) string {
	b := make([]byte, 64)
	n, _ := f.ReadAt(b, 0)
	return strings.TrimSpace(string(b[:n]))
}

func idPath(dbPath string) string {
	dir, name := filepath.Split(dbPath)
	return filepath.Join(dir, "."+name+"-sidecar-lease-id")
}
