package testenv

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the app's driver
)

// The test app's one row format, shared by the tests, the fault suite's
// writer and the bench: table items, one row per id, whose body is Body(id)
// unless a test needs rows of a given size; Rows reads it back as
// "id:body" (RowText).

// AppSchema creates the test app's table.
const AppSchema = `CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`

// Body is row id's body: its number, and a length that varies with it so
// that pages hold rows of several sizes.
func Body(id int) string { return fmt.Sprintf("row %d %s", id, strings.Repeat("x", id%50)) }

// RowText is row id as Rows returns it.
func RowText(id int) string { return strconv.Itoa(id) + ":" + Body(id) }

// OpenAppDB opens path as the app does: WAL, one connection (one writer),
// a busy timeout that outlasts Litestream's checkpoints, the given
// synchronous level ("FULL": an acknowledged commit is durable; the bench
// measures "NORMAL"), and the table created.
func OpenAppDB(path, synchronous string) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000&_synchronous="+synchronous)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(AppSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create the app's table in %s: %w", path, err)
	}
	return db, nil
}

// OpenApp is OpenAppDB with synchronous=FULL; an error ends the test.
func OpenApp(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := OpenAppDB(path, "FULL")
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// Execer is a database or a transaction.
type Execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

// Insert writes row id with body through db or a transaction.
func Insert(db Execer, id int, body string) error {
	if _, err := db.Exec(`INSERT INTO items (id, body) VALUES (?, ?)`, id, body); err != nil {
		return fmt.Errorf("insert row %d: %w", id, err)
	}
	return nil
}

// InsertRows commits rows from..to with their Body, one transaction each.
func InsertRows(tb testing.TB, db *sql.DB, from, to int) {
	tb.Helper()
	for i := from; i <= to; i++ {
		if err := Insert(db, i, Body(i)); err != nil {
			tb.Fatal(err)
		}
	}
}

// Rows reads every row of the test app's items table (id, body) in id
// order, as "id:body" strings, from a database opened read-only.
func Rows(tb testing.TB, path string) []string {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(`SELECT id, body FROM items ORDER BY id`)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var id int
		var body string
		if err := rs.Scan(&id, &body); err != nil {
			tb.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d:%s", id, body))
	}
	if err := rs.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
