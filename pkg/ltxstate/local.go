package ltxstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/superfly/ltx"
)

// Local is what lies beside a database: Litestream's local LTX files and
// the restore marker.
type Local struct {
	// TXID is Litestream's local position: the highest TXID of its local
	// level-0 files, which is what its DB.Pos reads (Litestream v0.5 keeps
	// no other level locally). 0 when there is no local state.
	TXID ltx.TXID
	// Last is the path of the level-0 file ending at TXID, "" when none.
	Last string
	// Marker is the restore marker, nil when absent or unreadable;
	// MarkerErr says why one that exists cannot be read.
	Marker    *Marker
	MarkerErr error
}

// ReadLocal reads the local state of dbPath. Its names are read, never a
// Litestream DB object, so that nothing caches a position that a new
// history is about to remove. The error is about Litestream's local
// state; the marker fields are filled in either way.
func ReadLocal(dbPath string) (Local, error) {
	var l Local
	if m, err := ReadMarker(dbPath); err == nil {
		l.Marker = &m
	} else if !errors.Is(err, os.ErrNotExist) {
		l.MarkerErr = err
	}
	dir := LocalLevelDir(dbPath, 0)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	} else if err != nil {
		return l, fmt.Errorf("read Litestream's local state: %w", err)
	}
	for _, e := range ents {
		if _, maxTXID, err := ltx.ParseFilename(e.Name()); err == nil && maxTXID > l.TXID {
			l.TXID, l.Last = maxTXID, filepath.Join(dir, e.Name())
		}
	}
	return l, nil
}

// TipL0 is the name of the level-0 file that would bring the replica to
// Position(url), when the local state or the marker knows it; "" when
// neither does.
func (l Local) TipL0(url string) string {
	pos := l.Position(url)
	switch {
	case pos == 0:
		return ""
	case l.TXID == pos && l.Last != "":
		return filepath.Base(l.Last)
	case l.Marker != nil && l.Marker.ReplicaURL == url && ltx.TXID(l.Marker.TXID) == pos:
		return l.Marker.L0File
	}
	return ""
}

// Position is the highest TXID the local copy is known to hold: the larger
// of Litestream's local position and the marker's, when the marker names
// url. 0 means nothing is known.
func (l Local) Position(url string) ltx.TXID {
	pos := l.TXID
	if m := l.Marker; m != nil && m.ReplicaURL == url {
		pos = max(pos, ltx.TXID(m.TXID))
	}
	return pos
}

// LocalFileChecksum returns the file checksum of Litestream's local L0 file
// minTXID-maxTXID beside dbPath; ok is false when there is no such file.
func LocalFileChecksum(dbPath string, minTXID, maxTXID ltx.TXID) (sum ltx.Checksum, ok bool, err error) {
	p := filepath.Join(LocalLevelDir(dbPath, 0), ltx.FormatFilename(minTXID, maxTXID))
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	if fi.Size() < ltx.HeaderSize+ltx.TrailerSize {
		return 0, false, nil // a torn local file proves nothing
	}
	b := make([]byte, ltx.TrailerSize)
	if _, err := f.ReadAt(b, fi.Size()-ltx.TrailerSize); err != nil {
		return 0, false, fmt.Errorf("read the trailer of %s: %w", p, err)
	}
	sum, err = trailerSum(b)
	return sum, err == nil, err
}

// RemoveLocal removes Litestream's local state beside dbPath, all of it or
// none: a process killed part-way through a plain RemoveAll would leave
// some of its files (the directory lists in hash order), and Litestream
// would take what is left for its position and upload it. So the
// directory is renamed away first, in one step, and removed after; a
// leftover of an earlier removal goes the same way.
func RemoveLocal(dbPath string) error {
	dir := MetaDir(dbPath)
	gone := dir + ".removing"
	err := os.RemoveAll(gone)
	if err == nil {
		err = os.Rename(dir, gone)
	}
	if err == nil || errors.Is(err, os.ErrNotExist) { // nothing to rename: nothing there
		err = os.RemoveAll(gone)
	}
	if err != nil {
		return fmt.Errorf("remove Litestream's local state: %w", err)
	}
	return nil
}
