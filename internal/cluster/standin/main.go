// Command standin plays Overseerr in the cluster test (mk/cluster.mk): no
// registry is reachable there, so the real image cannot be pulled. Like
// Overseerr it keeps its SQLite database at /app/config/db/db.sqlite3 in WAL
// mode and answers GET /api/v1/status on :5055 (the overlay's probes); like
// most apps it keeps committing for a while after SIGTERM while it shuts
// down (STANDIN_STOP_SECONDS, default 8), which is what makes a pod
// replacement race its predecessor's final sync (docs/handover.md).
//
// Every row is (id, "row <id> by <pod>") in table items, the layout
// internal/testenv.Rows reads; the log lines `start rows=N sum=S` and
// `final rows=N sum=S` (S: SHA-256 of the "id:body\n" lines in id order) let
// the test compare what an app saw with what a replica restores.
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // pure Go, so the binary is static with CGO_ENABLED=0
)

func main() {
	log.SetFlags(log.LUTC | log.Ldate | log.Lmicroseconds)
	path := env("STANDIN_DB", "/app/config/db/db.sqlite3")
	stop, err := strconv.Atoi(env("STANDIN_STOP_SECONDS", "8"))
	if err != nil {
		log.Fatalf("STANDIN_STOP_SECONDS: %v", err)
	}
	interval, err := time.ParseDuration(env("STANDIN_INTERVAL", "100ms"))
	if err != nil {
		log.Fatalf("STANDIN_INTERVAL: %v", err)
	}
	if err := run(path, time.Duration(stop)*time.Second, interval); err != nil {
		log.Fatalf("standin: %v", err)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(path string, stopAfter, interval time.Duration) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// busy_timeout: the sidecar holds read transactions and checkpoints; an
	// app must wait for them rather than fail, as Overseerr's driver does.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	n, sum, err := summary(db)
	if err != nil {
		return err
	}
	log.Printf("start rows=%d sum=%s", n, sum)

	srv := &http.Server{Addr: ":5055", ReadHeaderTimeout: 5 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"version":"standin","rows":%d}`+"\n", count(db))
	})
	srv.Handler = mux
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatalf("listen: %v", err)
		}
	}()

	host, _ := os.Hostname()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var deadline <-chan time.Time
	for {
		select {
		case s := <-sig:
			if deadline == nil {
				log.Printf("%s: committing for %s more, then stopping", s, stopAfter)
				deadline = time.After(stopAfter)
			}
		case <-deadline:
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			srv.Shutdown(ctx)
			cancel()
			n, sum, err := summary(db)
			if err != nil {
				return err
			}
			log.Printf("final rows=%d sum=%s", n, sum)
			return nil
		case <-tick.C:
			// The id is the next one in the table, so a restored copy that
			// lacks rows shows as a gap in count, and the body says who wrote it.
			if _, err := db.Exec(`INSERT INTO items (id, body) SELECT n, 'row ' || n || ' by ' || ? FROM (SELECT COALESCE(MAX(id), 0) + 1 AS n FROM items)`, host); err != nil {
				return fmt.Errorf("insert: %w", err)
			}
		}
	}
}

func count(db *sql.DB) int {
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM items`).Scan(&n)
	return n
}

// summary is the row count and the SHA-256 of the rows as testenv.Rows
// formats them, one per line.
func summary(db *sql.DB) (int, string, error) {
	rs, err := db.Query(`SELECT id, body FROM items ORDER BY id`)
	if err != nil {
		return 0, "", err
	}
	defer rs.Close()
	h := sha256.New()
	n := 0
	for rs.Next() {
		var id int
		var body string
		if err := rs.Scan(&id, &body); err != nil {
			return 0, "", err
		}
		fmt.Fprintf(h, "%d:%s\n", id, body)
		n++
	}
	return n, hex.EncodeToString(h.Sum(nil)), rs.Err()
}
