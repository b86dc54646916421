// Command writer is the app of the fault suite: it commits numbered
// transactions (one row each, id = 1, 2, 3, …, in the test app's row
// format, testenv's) to DB_PATH and prints "committed N" after each commit
// returns, so a test that kills it knows which transactions were
// acknowledged. On start it continues after the highest id already in the
// database. SIGTERM or SIGINT stops it between
// two commits with exit 0, so a test can read a database whose every
// transaction was acknowledged; SIGKILL is the crash.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
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
	db, err := testenv.OpenAppDB(path, "FULL")
	if err != nil {
		return err
	}
	var n int
	if err := db.QueryRow(`SELECT coalesce(max(id), 0) FROM items`).Scan(&n); err != nil {
		return fmt.Errorf("last id: %w", err)
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
		if err := testenv.Insert(db, n, testenv.Body(n)); err != nil {
			return err
		}
		fmt.Printf("committed %d\n", n)
	}
}
