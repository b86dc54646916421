package e2e_test

import (
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// formatCases are databases whose layout is not the everyday one: each is
// created (setup), then changed while the sidecar runs in two phases; the
// first phase's end is the point-in-time target.
var formatCases = []struct {
	name          string
	setup, p1, p2 []string
}{
	{"page size 512",
		[]string{`PRAGMA page_size=512`, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, fill("t", 1, 300, 200)},
		[]string{fill("t", 301, 600, 200)}, []string{`DELETE FROM t WHERE id % 3 = 0`, fill("t", 601, 700, 900)}},
	{"page size 65536",
		[]string{`PRAGMA page_size=65536`, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, fill("t", 1, 300, 2000)},
		[]string{fill("t", 301, 400, 70000)}, []string{`UPDATE t SET v = upper(v) WHERE id % 5 = 0`}},
	{"auto_vacuum incremental",
		[]string{`PRAGMA auto_vacuum=INCREMENTAL`, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, fill("t", 1, 2000, 500)},
		[]string{`DELETE FROM t WHERE id > 500`, `PRAGMA incremental_vacuum(200)`},
		[]string{fill("t", 3000, 3500, 300), `DELETE FROM t WHERE id % 2 = 0`, `PRAGMA incremental_vacuum`}},
	{"WITHOUT ROWID",
		[]string{`CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID`,
			`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000) INSERT INTO kv SELECT printf('key-%05d', i), randomblob(100) FROM n`},
		[]string{`UPDATE kv SET v = randomblob(300) WHERE k < 'key-00500'`},
		[]string{`DELETE FROM kv WHERE k > 'key-00900'`, `INSERT INTO kv VALUES ('zz', randomblob(5000))`}},
	{"overflow rows over 1 MB",
		[]string{`CREATE TABLE big (id INTEGER PRIMARY KEY, v BLOB)`, `INSERT INTO big VALUES (1, randomblob(1500000))`},
		[]string{`INSERT INTO big VALUES (2, randomblob(2500000))`},
		[]string{`UPDATE big SET v = randomblob(1200000) WHERE id = 1`, `INSERT INTO big VALUES (3, zeroblob(3000000))`}},
	{"shrinks after DELETE and VACUUM",
		[]string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, fill("t", 1, 5000, 1000)},
		[]string{`DELETE FROM t WHERE id > 200`, `VACUUM`},
		[]string{fill("t", 6000, 6050, 100)}},
}

// fill inserts rows from..to of size bytes each into table.
func fill(table string, from, to, size int) string {
	return fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i+1 FROM n WHERE i < %d) INSERT INTO %s SELECT i, printf('%%.*c', %d, 'x') || i FROM n`, from, to, table, size)
}

// TestFormatEdgeCases: each layout round trips through the sidecar and
// restore (latest and point in time) to the same content, and --verify
// checks it.
func TestFormatEdgeCases(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	for i, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			db, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=10000")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			run := func(qs []string) {
				for _, q := range qs {
					if _, err := db.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}
			run(append(tc.setup, `PRAGMA journal_mode=WAL`))
			var pageSize int
			if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("page size %d", pageSize); strings.HasPrefix(tc.name, "page size") && tc.name != want {
				t.Fatalf("the database has page size %d: the case %q would prove nothing", pageSize, tc.name)
			}
			url := fmt.Sprintf("s3://backups/apps/format-%d", i)
			s := startSidecar(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL="+url, "SYNC_INTERVAL=200ms"))
			s.WaitReady(t, 60*time.Second)
			start := settled(t, s, "")
			run(tc.p1)
			mid := settled(t, s, start.LocalTXID)
			atMid := content(t, dbPath)
			run(tc.p2)
			settled(t, s, mid.LocalTXID)
			final := content(t, dbPath)
			if code := s.Stop(t, 60*time.Second); code != 0 {
				t.Fatalf("replicate exit %d: %s", code, s.Output())
			}
			if got := content(t, restoreTo(t, m, url)); got != final {
				t.Fatalf("latest restore differs from the database")
			}
			out := filepath.Join(t.TempDir(), "mid.db")
			r := runRestore(t, append(m.Env(), "DB_PATH="+out, "REPLICA_URL="+url), "--txid="+mid.LocalTXID)
			if r.Code != 0 {
				t.Fatalf("restore --txid=%s: exit %d: %s", mid.LocalTXID, r.Code, r.Stderr)
			}
			if got := content(t, out); got != atMid {
				t.Fatalf("point-in-time restore at %s differs from the database at that point", mid.LocalTXID)
			}
			r = runRestore(t, m.Env(), "--verify", "--replica-url="+url, "--restore-integrity-check=full")
			if r.Code != 0 || !strings.Contains(r.Stdout, "Integrity (full):") || !strings.Contains(r.Stdout, "ok") {
				t.Fatalf("--verify: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
			}
		})
	}
}

// settled waits until the replica holds a position past before, caught up
// with the local one, and that position holds still for two seconds: then
// every statement run before the call is in it (a sync that caught only
// part of a phase is followed by another). Seconds, not sync intervals: a
// race-built sidecar is several times slower.
func settled(t *testing.T, s *sidecar, before string) telemetry.Status {
	t.Helper()
	caughtUp := func(st telemetry.Status) bool {
		return st.Ready && st.LocalTXID > before && st.LocalTXID == st.ReplicaTXID
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		st := s.waitFor(t, 60*time.Second, "caught up past "+before, caughtUp)
		time.Sleep(2 * time.Second)
		if again, ok := s.Status(t); ok && caughtUp(again) && again.LocalTXID == st.LocalTXID {
			return again
		}
	}
	t.Fatalf("the replica's position did not settle past %s within 3 minutes", before)
	return telemetry.Status{}
}

// content is a digest of every table's rows, in key order, and the page
// size: two databases with the same content have the same digest.
func content(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := sha256.New()
	var pageSize int
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(h, "page_size=%d\n", pageSize)
	tables, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_litestream_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		if err := tables.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	tables.Close()
	for _, n := range names {
		rows, err := db.Query(`SELECT * FROM "` + n + `" ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		count := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%s:%v\n", n, vals)
			count++
		}
		rows.Close()
		fmt.Fprintf(h, "%s rows=%d\n", n, count)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
