package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/faultproxy"
)

// noopLatency is added each way between restore and the store for the
// no-op start's second figure: a store across a network, where each
// round trip before the download is felt (the local MinIO hides them).
const noopLatency = 10 * time.Millisecond

// noopStart times bin/restore when DB_PATH already holds the restored
// database: the path every pod restart pays. It returns the median of 10
// against the local MinIO and of 10 through a proxy adding noopLatency
// each way.
func (e *env) noopStart(ctx context.Context) (local, remote float64, size int64, err error) {
	const prefix = "noop"
	src := filepath.Join(e.work, "noop-src.db")
	if err := generate(src, "text", 10e6); err != nil {
		return 0, 0, 0, err
	}
	if err := replicateSnapshot(ctx, e.m, e.bucket, prefix, src); err != nil {
		return 0, 0, 0, err
	}
	removeSource(src)
	defer e.removePrefix(ctx, prefix)
	dir, err := os.MkdirTemp(e.work, "noop-")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "app.db")
	env := append(e.m.Env(), "HOME="+os.Getenv("HOME"), "DB_PATH="+dbPath, "REPLICA_URL=s3://"+e.bucket+"/"+prefix, "LOG_LEVEL=warn")
	if _, err := e.timeRestores(ctx, env, 1); err != nil { // restores; the rest are the no-op
		return 0, 0, 0, err
	}
	times, err := e.timeRestores(ctx, env, 10)
	if err != nil {
		return 0, 0, 0, err
	}
	p, err := faultproxy.Start(e.m.Addr)
	if err != nil {
		return 0, 0, 0, err
	}
	defer p.Close()
	p.SetLatency(noopLatency)
	far, err := e.timeRestores(ctx, append(env, "S3_ENDPOINT=http://"+p.Addr()), 10)
	if err != nil {
		return 0, 0, 0, err
	}
	fi, err := os.Stat(dbPath)
	if err != nil {
		return 0, 0, 0, err
	}
	return pct(times, 0.5), pct(far, 0.5), fi.Size(), nil
}

// timeRestores runs bin/restore n times with env (the last S3_ENDPOINT
// wins) and returns each run's milliseconds.
func (e *env) timeRestores(ctx context.Context, env []string, n int) ([]float64, error) {
	var times []float64
	for range n {
		cmd := exec.CommandContext(ctx, e.restore)
		cmd.Env = env
		start := time.Now()
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("bin/restore: %w: %s", err, strings.TrimSpace(string(b)))
		}
		times = append(times, time.Since(start).Seconds()*1000)
	}
	return times, nil
}
