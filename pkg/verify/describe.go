package verify

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// Table is one table of a database and its row count.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// Description is what `restore --verify` reports about a database.
type Description struct {
	SizeBytes int64   `json:"size_bytes"`
	PageSize  int64   `json:"page_size"`
	PageCount int64   `json:"page_count"`
	Tables    []Table `json:"tables"` // the app's
	// Internal are the tables SQLite (sqlite_*) and Litestream
	// (_litestream_lock, _litestream_seq) keep in the file: listed apart,
	// so that an operator comparing with the app sees everything the file
	// holds without taking them for the app's.
	Internal []Table `json:"internal_tables,omitempty"`
}

// internal reports whether a table is SQLite's or Litestream's own.
func internal(name string) bool {
	return strings.HasPrefix(name, "sqlite_") || strings.HasPrefix(name, "_litestream_")
}

// Describe reads the size, page geometry and every table's row count of the
// database at path, read-only.
func Describe(ctx context.Context, path string) (Description, error) {
	var d Description
	st, err := os.Stat(path)
	if err != nil {
		return d, err
	}
	d.SizeBytes = st.Size()
	db, err := Open(path)
	if err != nil {
		return d, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&d.PageSize); err != nil {
		return d, fmt.Errorf("%w: page_size: %v", ErrCorrupt, err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&d.PageCount); err != nil {
		return d, fmt.Errorf("%w: page_count: %v", ErrCorrupt, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return d, fmt.Errorf("%w: schema: %v", ErrCorrupt, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return d, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("%w: schema: %v", ErrCorrupt, err)
	}
	d.Tables = make([]Table, 0, len(names))
	for _, n := range names {
		t := Table{Name: n}
		q := `SELECT count(*) FROM "` + strings.ReplaceAll(n, `"`, `""`) + `"`
		if err := db.QueryRowContext(ctx, q).Scan(&t.Rows); err != nil {
			return d, fmt.Errorf("%w: count %s: %v", ErrCorrupt, n, err)
		}
		if internal(n) {
			d.Internal = append(d.Internal, t)
		} else {
			d.Tables = append(d.Tables, t)
		}
	}
	return d, nil
}
