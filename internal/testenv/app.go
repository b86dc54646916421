package testenv

import (
	"database/sql"
	"fmt"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the app's driver
)

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
