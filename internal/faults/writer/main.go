// Command writer is the app of the fault suite: it commits numbered
// transactions (one row each, n = 1, 2, 3, …) to DB_PATH and prints
// "committed N" after each commit returns, so a test that kills it knows
// which transactions were acknowledged. On start it continues after the
// highest n already in the database. SIGTERM or SIGINT stops it between
// two commits with exit 0, so a test can read a database whose every
// transaction was acknowledged; SIGKILL is the crash.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
}

func run() error {
	path := os.Getenv("DB_PATH")
	rate, _ := strconv.Atoi(os.Getenv("WRITES_PER_SECOND"))
	if rate <= 0 {
		rate = 200
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS seq (n INTEGER PRIMARY KEY, at TEXT NOT NULL)`); err != nil {
		return err
	}
	var n int64
	if err := db.QueryRow(`SELECT coalesce(max(n), 0) FROM seq`).Scan(&n); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return db.Close()
		case <-tick.C:
		}
		n++
		if _, err := db.Exec(`INSERT INTO seq (n, at) VALUES (?, ?)`, n, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("commit %d: %w", n, err)
		}
		fmt.Printf("committed %d\n", n)
	}
}
