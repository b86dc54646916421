// Command restore is init mode: it restores DB_PATH from the replica before
// the app starts and exits 0 only when the database is ready or provably new.
// With --verify it is the laptop tool: restore into a temp dir and report.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/litestream-sidecar/litestream-sidecar/internal/cli"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/restore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// terminationLog is where Kubernetes reads a container's last words
// (kubectl describe pod); written only when it exists.
const terminationLog = "/dev/termination-log"

const summary = `Restores the SQLite database at DB_PATH from the Litestream replica at
REPLICA_URL before the app starts (Kubernetes initContainer, Nomad prestart
task). Exits 0 only when the database is ready (restored or already present)
or the replica is proven empty under RESTORE_IF_REPLICA_MISSING=new.
DB_PATH may list several databases (comma-separated): each is restored from
REPLICA_URL/<file name>, all in parallel; exit 0 only when every one is ready,
else one line per failing database and the most severe code.
With --verify it restores into a temp dir and prints a report instead
(DB_PATH is not touched, only read for the names of several databases, and
nothing is written to the bucket).`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("restore", summary, config.Restore|config.Verify)
	f := bindFlags(c)
	if code, done := c.Parse(args, stdout, stderr); done {
		return code
	}
	target, err := f.target()
	if err != nil {
		return c.Fail(stderr, err)
	}
	if f.verify {
		return runVerify(ctx, c, f, target, stdout, stderr)
	}
	cfg, err := c.Load(config.Restore)
	if err == nil {
		_, err = restore.RunAll(ctx, cfg, cli.Start(cfg, stderr), target)
	}
	if err != nil {
		if f, ferr := os.OpenFile(terminationLog, os.O_WRONLY|os.O_TRUNC, 0); ferr == nil {
			io.WriteString(f, strings.Join(sysexit.Lines(err), "\n")+"\n")
			f.Close()
		}
		return c.Fail(stderr, err)
	}
	return 0
}
