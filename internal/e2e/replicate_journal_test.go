package e2e_test

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
)

// TestRollbackJournalApp: a database the app created in rollback-journal
// mode (journal_mode=DELETE, as Home Assistant's zigbee.db) replicates and
// restores whole; the sidecar says once, at start, that it found that mode
// and that Litestream switches the file to WAL.
func TestRollbackJournalApp(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	dbPath := filepath.Join(t.TempDir(), "zigbee.db")
	app, err := sql.Open("sqlite3", "file:"+dbPath+"?_journal_mode=DELETE&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	app.SetMaxOpenConns(1)
	if _, err := app.Exec(testenv.AppSchema); err != nil {
		t.Fatal(err)
	}
	testenv.InsertRows(t, app, 1, 50)
	if got := dbfile.JournalMode(dbPath); got != "rollback" {
		t.Fatalf("the test database is in %q mode, want rollback: the test would prove nothing", got)
	}

	const url = "s3://backups/apps/journal"
	s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms"))
	s.WaitReady(t, 30*time.Second)
	if n := strings.Count(s.Output(), "rollback-journal mode"); n != 1 {
		t.Fatalf("the sidecar said %d times that it found rollback-journal mode, want once: %s", n, s.Output())
	}
	if got := dbfile.JournalMode(dbPath); got != "wal" {
		t.Fatalf("journal mode %q while the sidecar runs, want wal (Litestream switches it)", got)
	}
	testenv.InsertRows(t, app, 51, 120)
	want := rows(t, dbPath)
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("replicate exit %d: %s", code, s.Output())
	}
	if got := rows(t, restoreTo(t, m, url)); !slices.Equal(got, want) || len(want) != 120 {
		t.Fatalf("restored %d rows, want the %d the app committed", len(got), len(want))
	}
}
