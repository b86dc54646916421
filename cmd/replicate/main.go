// Command replicate is sidecar mode: it replicates DB_PATH to REPLICA_URL
// until SIGTERM, then syncs what the app committed and exits 0.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/litestream-sidecar/litestream-sidecar/internal/cli"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/replicate"
)

const summary = `Replicates the SQLite database at DB_PATH to the Litestream replica at
REPLICA_URL (Kubernetes native sidecar, Nomad sidecar task), serves /metrics,
/healthz, /readyz, /startupz and /status on METRICS_ADDR, and on SIGTERM or
SIGINT syncs what the app committed within SHUTDOWN_TIMEOUT before exiting 0.
/startupz (the startup probe) answers 200 once the app may start: the lease
held and the lineage checked, or the replica proven empty for a first boot.

Waits for DB_PATH to appear. With LEASE=true (s3:// only) it holds the lease
<prefix>/lock.json: while another writer holds it, it waits (unready) and
writes nothing; a lease lost to another writer stops it with exit 75.
A SIGTERM while it waits ends the wait at once: 75 for another writer's
lease, 69 for a store that does not answer, 0 before the app created the
database.
Lineage guard: if the replica holds data this database was not restored from
(restore marker) and has not replicated itself, it exits 65 without writing.
Give the orchestrator a grace period above SHUTDOWN_TIMEOUT (default 25s):
terminationGracePeriodSeconds / kill_timeout of at least 30s.`

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, signals))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	c := cli.New("replicate", summary, config.Replicate)
	if code, done := c.Parse(args, stdout, stderr); done {
		return code
	}
	cfg, err := c.Load(config.Replicate)
	if err == nil {
		err = replicate.Run(ctx, cfg, cli.Start(cfg, stderr), signals)
	}
	if err != nil {
		return c.Fail(stderr, err)
	}
	return 0
}
