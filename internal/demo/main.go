// Command demo runs the whole job end to end on this machine (make demo):
// a local MinIO, a sample database, the replicate sidecar, more writes,
// SIGTERM, the local database deleted, restore, and a report comparing
// row counts before and after.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

const (
	initialRows = 20000
	moreRows    = 2000
)

func run() error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	work := filepath.Join(root, ".demo")
	os.RemoveAll(work)
	dataDir := filepath.Join(work, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")

	step("starting MinIO on a free 127.0.0.1 port")
	m, err := testenv.StartMinIO(filepath.Join(work, "minio"))
	if err != nil {
		return err
	}
	defer m.Stop()
	if err := m.MakeBucket(context.Background(), "backups"); err != nil {
		return err
	}
	dbPath := filepath.Join(dataDir, "app.db")
	env := append(os.Environ(), m.Env()...)
	env = append(env, "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/demo/app", "SYNC_INTERVAL=250ms")

	step(fmt.Sprintf("creating %s with %d rows (WAL mode)", dbPath, initialRows))
	app, err := sql.Open("sqlite3", "file:"+dbPath+"?_journal_mode=WAL&_synchronous=FULL")
	if err != nil {
		return err
	}
	app.SetMaxOpenConns(1)
	if err := write(app, 1, initialRows, 1000); err != nil {
		return err
	}

	addr, err := testenv.FindFreeAddr()
	if err != nil {
		return err
	}
	logPath := filepath.Join(work, "replicate.log")
	step("starting replicate (log: " + logPath + ")")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	rep := exec.Command(filepath.Join(bin, "replicate"))
	rep.Env = append(env, "METRICS_ADDR="+addr)
	rep.Stdout, rep.Stderr = logFile, logFile
	if err := rep.Start(); err != nil {
		return err
	}
	if err := testenv.WaitHTTP("http://"+addr+"/readyz", 60*time.Second, nil); err != nil {
		rep.Process.Kill()
		return err
	}

	step(fmt.Sprintf("writing %d more rows, one transaction each, while replicate runs", moreRows))
	if err := write(app, initialRows+1, initialRows+moreRows, 1); err != nil {
		return err
	}
	before, err := count(app)
	if err != nil {
		return err
	}
	app.Close()

	step("stopping replicate with SIGTERM (final sync)")
	stopStart := time.Now()
	rep.Process.Signal(syscall.SIGTERM)
	if err := rep.Wait(); err != nil {
		return fmt.Errorf("replicate did not stop cleanly: %w (see %s)", err, logPath)
	}
	stopTook := time.Since(stopStart)

	step("deleting the local database, as a pod on a new node would find it")
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", filepath.Join(dataDir, ".app.db-litestream")} {
		os.RemoveAll(p)
	}

	step("running restore")
	restoreStart := time.Now()
	rs := exec.Command(filepath.Join(bin, "restore"))
	rs.Env = env
	rs.Stdout, rs.Stderr = os.Stdout, os.Stderr
	if err := rs.Run(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	restoreTook := time.Since(restoreStart)

	restored, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		return err
	}
	defer restored.Close()
	after, err := count(restored)
	if err != nil {
		return err
	}
	var check string
	if err := restored.QueryRow("PRAGMA quick_check").Scan(&check); err != nil {
		return err
	}
	st, err := os.Stat(dbPath)
	if err != nil {
		return err
	}

	fmt.Printf("\n== demo report ==\n")
	fmt.Printf("rows before stop     %d\n", before)
	fmt.Printf("rows after restore   %d\n", after)
	fmt.Printf("quick_check          %s\n", check)
	fmt.Printf("database size        %.1f MB\n", float64(st.Size())/1e6)
	fmt.Printf("final sync (SIGTERM) %s\n", stopTook.Round(time.Millisecond))
	fmt.Printf("restore time         %s (whole process: start, preflight, download, check, install)\n", restoreTook.Round(time.Millisecond))
	if before != after || check != "ok" {
		return errors.New("restored database differs from the original")
	}
	fmt.Println("result               OK: every committed row came back")
	return nil
}

func step(s string) { fmt.Println("==>", s) }

func write(db *sql.DB, from, to, batch int) error {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL, created TEXT NOT NULL)`); err != nil {
		return err
	}
	for i := from; i <= to; i += batch {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		for j := i; j < i+batch && j <= to; j++ {
			if _, err := tx.Exec(`INSERT INTO items VALUES (?, ?, ?)`, j, strings.Repeat(fmt.Sprintf("item %d ", j), 8), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func count(db *sql.DB) (n int, err error) {
	err = db.QueryRow(`SELECT count(*) FROM items`).Scan(&n)
	return n, err
}
