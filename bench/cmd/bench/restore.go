package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// Method names, as printed.
const (
	mRaw      = "raw minio-go parallel download"
	mRawWB    = "raw, written as ours writes (fallocate, write-back)"
	mLib      = "ours: pkg/ltxrestore (in-process)"
	mUpstream = "upstream litestream v0.5.18 CLI"
	mBin      = "ours: bin/restore (end to end)"
	mBefore   = "ours: bin/restore before (-restore-before)"
)

// measurement is one run of one method.
type measurement struct {
	download, ready time.Duration
	requests        int64
	bytes           int64
	warning         string             // a warning the method logged (bin/restore falling back)
	phases          map[string]float64 // bin/restore: seconds per phase (binrun.go)
	peakMB          float64            // bin/restore: peak RSS
	anonMB          float64            // bin/restore: peak anonymous RSS
}

// env is what every restore method needs.
type env struct {
	m        *testenv.MinIO
	bucket   string
	upstream string // path of the upstream litestream binary
	restore  string // path of bin/restore
	before   string // path of an earlier build of bin/restore to compare with, or ""
	work     string // scratch directory
	reuse    bool   // -keep: replicas from an earlier run are used again, and kept
	methods  map[string]bool
	memlimit bool // restore 1 GiB and larger inside a 160 MiB memory cgroup too
}

// existing reports whether prefix already holds a replica from an earlier
// run to reuse (-keep).
func (e *env) existing(ctx context.Context, prefix string) bool {
	if !e.reuse {
		return false
	}
	plan, err := e.plan(ctx, prefix)
	return err == nil && len(plan) > 0
}

// dropPrefix frees MinIO's disk after a case, unless -keep keeps it.
func (e *env) dropPrefix(ctx context.Context, prefix string) {
	if !e.reuse {
		e.removePrefix(ctx, prefix)
	}
}

// plan is Litestream's restore plan for bucket/prefix.
func (e *env) plan(ctx context.Context, prefix string) ([]*ltx.FileInfo, error) {
	return litestream.CalcRestorePlan(ctx, s3Client(e.m, e.bucket, prefix), 0, time.Time{}, slog.New(slog.DiscardHandler))
}

// runRaw downloads the plan's objects; ready == download (nothing to check).
func (e *env) runRaw(ctx context.Context, prefix string, writeback bool) (measurement, error) {
	dir, err := os.MkdirTemp(e.work, "raw-")
	if err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	plan, err := e.plan(ctx, prefix)
	if err != nil {
		return measurement{}, err
	}
	n, reqs, err := rawDownload(ctx, e.m.Client(), e.bucket, prefix, plan, dir, writeback)
	d := time.Since(start)
	return measurement{download: d, ready: d, requests: int64(reqs), bytes: n}, err
}

// runLib is pkg/ltxrestore: plan + parallel restore + fsync (download),
// then quick_check (ready). keep names a file to move the output to.
func (e *env) runLib(ctx context.Context, prefix, keep string) (measurement, error) {
	out := filepath.Join(e.work, "lib.db")
	defer os.Remove(out)
	start := time.Now()
	client := s3Client(e.m, e.bucket, prefix)
	plan, err := litestream.CalcRestorePlan(ctx, client, 0, time.Time{}, slog.New(slog.DiscardHandler))
	if err != nil {
		return measurement{}, err
	}
	st, err := ltxrestore.Restore(ctx, client, plan, out, ltxrestore.Options{Sync: true})
	if err != nil {
		return measurement{}, err
	}
	dl := time.Since(start)
	if err := verify.Check(ctx, out, verify.Quick); err != nil {
		return measurement{}, err
	}
	m := measurement{download: dl, ready: time.Since(start), requests: st.Requests, bytes: st.BytesDownloaded}
	if keep != "" {
		return m, os.Rename(out, keep)
	}
	return m, nil
}

// runUpstream is `litestream restore -o OUT s3://bucket/prefix?endpoint=…`;
// ready adds the same quick_check ours runs (the CLI's default is none).
func (e *env) runUpstream(ctx context.Context, prefix, keep string) (measurement, error) {
	out := filepath.Join(e.work, "upstream.db")
	defer os.Remove(out)
	url := fmt.Sprintf("s3://%s/%s?endpoint=%s&forcePathStyle=true", e.bucket, prefix, e.m.Endpoint)
	cmd := exec.CommandContext(ctx, e.upstream, "restore", "-o", out, url)
	cmd.Env = []string{"HOME=" + os.Getenv("HOME"), "AWS_ACCESS_KEY_ID=" + testenv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey, "AWS_REGION=us-east-1"}
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return measurement{}, fmt.Errorf("upstream restore: %w: %s", err, b)
	}
	dl := time.Since(start)
	if err := verify.Check(ctx, out, verify.Quick); err != nil {
		return measurement{}, err
	}
	m := measurement{download: dl, ready: dl + time.Since(start.Add(dl))}
	if keep != "" {
		return m, os.Rename(out, keep)
	}
	return m, nil
}

// runBin is our restore binary end to end (preflight, restore, quick_check,
// fsync, rename, marker): time-to-ready from outside, and from its final
// line where that time went.
func (e *env) runBin(ctx context.Context, bin, prefix string) (measurement, error) {
	dir, err := os.MkdirTemp(e.work, "bin-")
	if err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(dir)
	r, err := runRestoreBinary(ctx, bin, append(e.m.Env(), "DB_PATH="+filepath.Join(dir, "app.db"),
		"REPLICA_URL=s3://"+e.bucket+"/"+prefix))
	if err != nil {
		return measurement{}, err
	}
	m := measurement{ready: r.wall, phases: r.phases, peakMB: r.peakMB, anonMB: r.anonMB}
	if strings.Contains(r.output, "falling back") {
		m.warning = "bin/restore fell back to Litestream's restore: " + strings.TrimSpace(r.output)
	}
	return m, nil
}

// sameFile compares two files by SHA-256.
func sameFile(a, b string) (bool, error) {
	ha, err := sum(a)
	if err != nil {
		return false, err
	}
	hb, err := sum(b)
	return err == nil && ha == hb, err
}

func sum(p string) ([32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}
