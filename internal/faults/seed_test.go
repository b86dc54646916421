//go:build faults

package faults_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"syscall"
	"time"
)

// seed creates e.dbPath with rows 1..n of ~400 bytes of incompressible
// text each and replicates it with a clean sidecar stop, so the replica
// holds exactly those rows.
func (e *env) seed(n int) {
	e.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+e.dbPath+"?_journal_mode=WAL")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE seq (n INTEGER PRIMARY KEY, at TEXT NOT NULL)`); err != nil {
		e.t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		e.t.Fatal(err)
	}
	buf := make([]byte, 200)
	for i := 1; i <= n; i++ {
		rand.Read(buf)
		if _, err := tx.Exec(`INSERT INTO seq VALUES (?, ?)`, i, hex.EncodeToString(buf)); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
	sc, addr := e.startSidecar(e.m.Endpoint)
	if err := waitReady(addr, time.Minute); err != nil {
		e.t.Fatalf("seed sidecar: %v: %s", err, sc.Output())
	}
	if code, err := sc.Signal(syscall.SIGTERM, time.Minute); err != nil || code != 0 {
		e.t.Fatalf("seed sidecar stop: exit %d, %v: %s", code, err, sc.Output())
	}
}
