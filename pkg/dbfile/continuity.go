// Package dbfile guards the local SQLite files the sidecar replicates: the
// header check, the WAL's continuity with Litestream's last local LTX file,
// the pin that keeps that WAL in place until Litestream holds it, and the
// free space of their filesystem (space.go).
package dbfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// Why this file exists. Litestream holds a read transaction on the database
// so that the app's checkpoints cannot move WAL frames it has not shipped
// into the database file. While the sidecar is down (crash, OOM kill,
// restart of the sidecar container beside a running app) nothing holds it:
// the app's auto-checkpoint copies the unshipped frames into the database and
// the next write restarts the WAL. Litestream v0.5.18 detects that only when
// the WAL shows more than one new salt (upstream PR #761: "does not fix all
// cases"); after a single restart it resumes incrementally from the new WAL
// and the replica silently misses those frames. Measured here: the fault
// suite's sidecar-SIGKILL scenario restored databases with 60-200 rows
// missing from the middle that still passed integrity_check.
//
// So, before Litestream opens the database, the sidecar compares the WAL
// with the last local LTX file. If the WAL no longer continues from it, the
// replica's history is moved aside (kept, restorable) and Litestream's local
// state removed, so that its first sync is a full snapshot of the database as
// it is now.

// Continuity is what CheckContinuity found.
type Continuity struct {
	Broken bool
	Reason string   // why it is broken
	TXID   ltx.TXID // last local position

	// The WAL generation and offset the last LTX file ends at, when they
	// were compared (Checked): what Unchanged compares again.
	Checked      bool
	salt1, salt2 uint32
	end          int64
}

// Unchanged reports whether the WAL still carries the salts CheckContinuity
// saw and reaches the offset Litestream continues from. It reads the -wal
// only, never the -shm: once the process holds SQLite locks on the -shm
// (the pin), closing any other descriptor on it would drop them (POSIX).
func (c Continuity) Unchanged(dbPath string) (bool, error) {
	if !c.Checked {
		return true, nil
	}
	w, err := readWAL(dbPath)
	if err != nil || w.missing || w.short {
		return false, err
	}
	return w.salt1 == c.salt1 && w.salt2 == c.salt2 && w.size >= c.end, nil
}

// walHeaderSize is SQLite's WAL header; the salts are at bytes 16..23.
const walHeaderSize = 32

// walState is what the -wal file shows: its header's salts and its size.
type walState struct {
	missing, short bool // no -wal file; shorter than its header
	salts          []byte
	salt1, salt2   uint32
	size           int64
}

// readWAL reads the -wal only (never the -shm; see Unchanged).
func readWAL(dbPath string) (walState, error) {
	f, err := os.Open(dbPath + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return walState{missing: true}, nil
	} else if err != nil {
		return walState{}, fmt.Errorf("open WAL: %w", err)
	}
	defer f.Close()
	var hdr [walHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return walState{short: true}, nil
	}
	st, err := f.Stat()
	if err != nil {
		return walState{}, err
	}
	return walState{
		salts: hdr[16:24],
		salt1: binary.BigEndian.Uint32(hdr[16:]), salt2: binary.BigEndian.Uint32(hdr[20:]),
		size: st.Size(),
	}, nil
}

// CheckContinuity compares the WAL of dbPath with the header of the last
// local L0 LTX file Litestream wrote. No local state means nothing to
// compare (a fresh or restored database): not broken.
func CheckContinuity(dbPath string) (Continuity, error) {
	local, err := ltxstate.ReadLocal(dbPath)
	if err != nil {
		return Continuity{}, err
	}
	if local.Last == "" {
		return Continuity{}, nil
	}
	hdr, err := readLTXHeader(local.Last)
	if err != nil {
		return Continuity{}, err
	}
	c := Continuity{TXID: local.TXID}
	if hdr.WALOffset == 0 || (hdr.WALSalt1 == 0 && hdr.WALSalt2 == 0) {
		return c, nil // not written from a WAL: nothing to compare
	}
	w, err := readWAL(dbPath)
	switch {
	case err != nil:
		return c, err
	case w.missing:
		c.Broken, c.Reason = true, "the WAL was removed since the last sync"
		return c, nil
	case w.short:
		c.Broken, c.Reason = true, "the WAL was truncated since the last sync"
		return c, nil
	}
	synced := uint32((hdr.WALOffset + hdr.WALSize - walHeaderSize) / int64(hdr.PageSize+walFrameHeaderSize))
	switch {
	case w.salt1 != hdr.WALSalt1 || w.salt2 != hdr.WALSalt2:
		c.Broken, c.Reason = true, "the WAL was restarted since the last sync (a checkpoint ran while the sidecar was down)"
	case w.size < hdr.WALOffset+hdr.WALSize:
		c.Broken, c.Reason = true, "the WAL is shorter than at the last sync"
	default:
		// Same WAL generation. Frames the app checkpointed beyond our
		// position are still in the WAL, but its next write may restart
		// it before Litestream reads them: count them as lost already.
		if n, ok := backfilled(dbPath, w.salts); ok && n > synced {
			c.Broken, c.Reason = true, fmt.Sprintf("the app checkpointed %d WAL frames not yet shipped (shipped %d)", n-synced, synced)
		} else {
			c.Checked, c.salt1, c.salt2, c.end = true, w.salt1, w.salt2, hdr.WALOffset+hdr.WALSize
		}
	}
	return c, nil
}

// walFrameHeaderSize is SQLite's per-frame header in the WAL.
const walFrameHeaderSize = 24

// backfilled reads nBackfill, the number of WAL frames already copied into
// the database, from the -shm WAL-index (SQLite's wal.c: two 48-byte copies
// of the index header, then WalCkptInfo with nBackfill first; host byte
// order; the salts are the WAL header's bytes). ok is false when the index
// is absent, torn (the copies differ) or of another WAL generation. It
// must not run while this process holds SQLite locks on the -shm: closing
// its descriptor would drop them (see pin.go).
func backfilled(dbPath string, salts []byte) (uint32, bool) {
	f, err := os.Open(dbPath + "-shm")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var b [136]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return 0, false
	}
	if !bytes.Equal(b[0:48], b[48:96]) || !bytes.Equal(b[32:40], salts) {
		return 0, false
	}
	return binary.NativeEndian.Uint32(b[96:100]), true
}

// sqliteMagic opens every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// CheckHeader reports, as exit 65, a DB_PATH that is not a SQLite
// database: Litestream would otherwise retry it forever. An empty file is
// accepted: the app has created it and not written yet.
func CheckHeader(dbPath string) error {
	f, err := os.Open(dbPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var b [len(sqliteMagic)]byte
	n, err := io.ReadFull(f, b[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return nil
	}
	if string(b[:n]) != sqliteMagic {
		return sysexit.Errorf(sysexit.DataErr, "%s is not a SQLite database (its header is not %q); check DB_PATH", dbPath, strings.TrimSuffix(sqliteMagic, "\x00"))
	}
	return nil
}

func readLTXHeader(p string) (ltx.Header, error) {
	f, err := os.Open(p)
	if err != nil {
		return ltx.Header{}, err
	}
	defer f.Close()
	dec := ltx.NewDecoder(f)
	if err := dec.DecodeHeader(); err != nil {
		return ltx.Header{}, fmt.Errorf("decode %s: %w", p, err)
	}
	return dec.Header(), nil
}
