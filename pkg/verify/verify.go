// Package verify checks a SQLite database with mattn/go-sqlite3 (the C
// SQLite, not Litestream's modernc build) and describes it for reports.
package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// ErrCorrupt is returned when a database fails its integrity check or is
// not a SQLite database at all.
var ErrCorrupt = errors.New("integrity check failed")

// Modes of Check, as RESTORE_INTEGRITY_CHECK spells them.
const (
	Quick = "quick"
	Full  = "full"
	None  = "none"
)

// maxProblems bounds how many of SQLite's messages an error quotes.
const maxProblems = 3

// Open opens path read-only; nothing is written, not even a -wal or -shm.
func Open(path string) (*sql.DB, error) {
	q := url.Values{"mode": {"ro"}, "_query_only": {"1"}}
	db, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// escapePath keeps a path with ? or # from being read as URI syntax.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Check runs PRAGMA quick_check (mode Quick) or integrity_check (Full) on
// the database at path. None returns nil without opening it.
func Check(ctx context.Context, path, mode string) error {
	pragma := ""
	switch mode {
	case None:
		return nil
	case Quick, "":
		pragma = "quick_check"
	case Full:
		pragma = "integrity_check"
	default:
		return fmt.Errorf("verify: unknown integrity check mode %q", mode)
	}
	db, err := Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	// A check cut short by its deadline or a signal has found nothing
	// wrong: it must never read as a damaged database.
	corrupt := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("%s not finished: %w", pragma, ctx.Err())
		}
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return corrupt(err)
	}
	defer conn.Close()
	// Read the file through a memory map rather than a pread per page: the
	// check reads every page once, and on a restored database (just
	// written, so in the page cache) that halves its time. SQLite caps
	// the map at SQLITE_MAX_MMAP_SIZE (2 GiB unless the build raises it)
	// and reads the rest as before.
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size=%d", st.Size())); err != nil {
			return corrupt(err)
		}
	}
	rows, err := conn.QueryContext(ctx, "PRAGMA "+pragma)
	if err != nil {
		return corrupt(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return corrupt(err)
		}
		if msg != "ok" && len(problems) < maxProblems {
			problems = append(problems, msg)
		}
	}
	if err := rows.Err(); err != nil {
		return corrupt(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w (%s): %s", ErrCorrupt, pragma, strings.Join(problems, "; "))
	}
	return nil
}
