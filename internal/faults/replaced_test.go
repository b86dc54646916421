//go:build faults

package faults_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// newDatabase writes a standalone SQLite file (no WAL) at path holding rows
// 1..n of the app's table, as an app's "restore from backup" would bring.
func newDatabase(t *testing.T, path string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		testenv.AppSchema,
		fmt.Sprintf(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) INSERT INTO items SELECT x, 'replaced' FROM c`, n),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDBReplaced: while the sidecar runs, the app stops, a different
// database is moved into DB_PATH (its stale -wal and -shm removed, as an
// operator restoring an app backup does) and the app starts again on it.
// Defined behaviour: the sidecar notices the different file, logs an
// ERROR, keeps the old history under <prefix>/history/ and starts a new
// history with a full snapshot of the new file, so that a restore returns
// the new database, not the old one frozen at the swap.
func TestDBReplaced(t *testing.T) {
	e := newEnv(t, "disk/replaced")
	w, sc, addr := e.boot(100, "SYNC_INTERVAL=200ms")
	e.mustReady(sc, addr)
	// CI: two swaps, so that the second replaces a database whose history
	// was itself started by a swap.
	runs, failures, notes := iterations(3, 2), 0, []string{}
	for i := range runs {
		time.Sleep(2 * time.Second)
		k := 30000 * (i + 1)
		next := filepath.Join(t.TempDir(), "next.db")
		newDatabase(t, next, k)
		w.Kill()
		if err := os.Rename(next, e.dbPath); err != nil {
			t.Fatal(err)
		}
		os.Remove(e.dbPath + "-wal")
		os.Remove(e.dbPath + "-shm")
		w = e.startWriter(100)
		if ok, code := sc.Exited(); ok {
			t.Fatalf("swap %d: sidecar exited %d: %s", i, code, sc.Output())
		}
		c := lastCommitted(w.Output())
		if err := waitSynced(addr, 2*time.Minute); err != nil {
			failures++
			t.Errorf("swap %d: %v", i, err)
			continue
		}
		got, err := e.restoreNow()
		if err != nil || got < int64(max(k, int(c))) {
			failures++
			t.Errorf("swap %d: restore now: %d rows, %v; the new database has %d+ rows\n%s", i, got, err, k, e.listing())
		}
		notes = append(notes, fmt.Sprintf("%d≥%d", got, k))
	}
	if n := strings.Count(sc.Output(), "database replaced underneath the sidecar"); n != runs {
		failures++
		t.Errorf("%d ERROR lines for %d swaps", n, runs)
	}
	if !strings.Contains(e.listing(), "/history/") {
		failures++
		t.Errorf("the old history was not kept under history/:\n%s", e.listing())
	}
	local := e.stopWriter(w)
	got, f := e.stopAndCompare(sc, local)
	failures += f
	e.noSecret()
	record("disk: database file replaced under the sidecar", runs, failures,
		fmt.Sprintf("restore after each swap: %s; final %d rows == local %d", strings.Join(notes, ", "), got, local))
}
