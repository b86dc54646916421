package dbfile

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// Why a pin. CheckContinuity looks at the WAL before Litestream opens the
// database, and Litestream takes its read transaction only in its first
// sync, one monitor interval (1 s) after Store.Open. In between nothing
// holds the WAL: an app checkpoint there copies the frames not yet shipped
// into the database file, the app's next commit restarts the WAL, and
// Litestream v0.5.18 reads a single restart as harmless and resumes from
// the new WAL. Those rows were missing from every restore until the next
// snapshot (internal/e2e TestContinuityWALRestartedWhileStarting).
//
// A read transaction held from the check until Litestream holds its own
// keeps a WAL read mark, and SQLite restarts a WAL only when no reader
// holds one. The app's writes are never blocked (WAL readers do not block
// writers), and its checkpoints still copy what they can.
//
// POSIX drops every lock a process holds on a file when any descriptor on
// that file closes. So the pin is taken after CheckContinuity, which opens
// and closes the -shm, and Continuity.Unchanged then rereads only the -wal
// (on which SQLite holds no locks). Taken the other way round, the check
// silently dropped the pin's lock, and with it the one Litestream then took
// through the same SQLite (it counts a slot already locked in the process
// as locked): in the fault suite the WAL restarted under a running
// sidecar. For the same reason the pin goes through modernc.org/sqlite, the
// SQLite Litestream links, and never through a second SQLite library.
//
// Open corner: a pin begun when the WAL is wholly backfilled reads the
// database file alone (read mark 0), which does not stop a restart. If the
// app appends and checkpoints everything between CheckContinuity and the
// pin, frames not yet shipped can be lost to the next restart; Unchanged
// sees that the WAL grew, not that it was backfilled. Closing it needs the
// -shm read through a descriptor kept open until the store closes, and a
// way to tell a backfill before the pin from one up to its snapshot after.

// Pin is a read transaction on the database; the zero value pins nothing.
type Pin struct {
	db *sql.DB
	tx *sql.Tx
}

// PinWAL opens a read transaction on dbPath when there is a WAL to keep
// continuous: the database is in WAL mode and Litestream has local state
// to continue from. Otherwise (new database, rollback journal, state
// removed) Litestream's first sync is a snapshot and nothing needs
// pinning; PinWAL returns a Pin that does nothing.
func PinWAL(ctx context.Context, dbPath string) (*Pin, error) {
	if !walMode(dbPath) || !hasLocalState(dbPath) {
		return &Pin{}, nil
	}
	// mode=ro: the pin never writes, and a read-only connection does not
	// checkpoint or delete the WAL when it closes last.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open %s to hold its WAL: %w", dbPath, err)
	}
	db.SetMaxOpenConns(1)
	// database/sql rolls a transaction back when its context ends; the pin
	// outlives this call.
	tx, err := db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("begin a read transaction on %s: %w", dbPath, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
		tx.Rollback()
		db.Close()
		return nil, fmt.Errorf("read %s to hold its WAL: %w", dbPath, err)
	}
	return &Pin{db: db, tx: tx}, nil
}

// Held reports whether the pin holds a read transaction.
func (p *Pin) Held() bool { return p != nil && p.tx != nil }

// Release ends the read transaction; it is safe to call more than once.
func (p *Pin) Release() {
	if p == nil || p.tx == nil {
		return
	}
	p.tx.Rollback()
	p.db.Close()
	p.tx, p.db = nil, nil
}

// walMode reports whether the database header's file format versions
// (bytes 18 and 19) say WAL (2).
func walMode(dbPath string) bool { return JournalMode(dbPath) == "wal" }

// JournalMode reads the journal mode the database file's header records:
// "wal", "rollback" (DELETE, TRUNCATE, PERSIST…; format version 1), or ""
// when the file is empty or unreadable (the app has not written yet).
func JournalMode(dbPath string) string {
	f, err := os.Open(dbPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var b [20]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return ""
	}
	switch {
	case b[18] == 2 && b[19] == 2:
		return "wal"
	case b[18] == 1 && b[19] == 1:
		return "rollback"
	}
	return ""
}

// hasLocalState reports whether Litestream has a local position to
// continue from beside dbPath.
func hasLocalState(dbPath string) bool {
	l, err := ltxstate.ReadLocal(dbPath)
	return err == nil && l.TXID != 0
}
