package main

import (
	"context"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// memLimit is the memory limit of the memlimit case: a 1 GB database must
// stay restorable inside 160 MiB (docs/design.md "Restore speed" says
// what keeps it there).
const memLimit = 160 << 20

// MemLimitRow is one restore run by bin/restore inside a memory cgroup of
// memLimit bytes (page cache included, as a pod's limit counts it).
type MemLimitRow struct {
	Case     string  `json:"case"`
	OK       bool    `json:"ok"`
	ReadySec float64 `json:"ready_s"`
	MaxMB    float64 `json:"cgroup_max_usage_mb"` // v1 only; v2 reports memory.peak where the kernel has it
	OOMKills int     `json:"oom_kills"`
	Error    string  `json:"error,omitempty"`
}

// runLimited restores prefix with bin/restore in a memory cgroup of its
// own of memLimit bytes, created under the bench's and removed after.
func (e *env) runLimited(ctx context.Context, name, prefix string) (MemLimitRow, error) {
	log.Printf("%s: restoring inside %d MiB", name, memLimit>>20)
	cg, err := testenv.NewMemCgroup(memLimit)
	if err != nil {
		return MemLimitRow{}, err
	}
	defer cg.Remove()
	dir, err := os.MkdirTemp(e.work, "memlimit-")
	if err != nil {
		return MemLimitRow{}, err
	}
	defer os.RemoveAll(dir)
	argv := cg.Command(e.restore)
	r, rerr := runRestoreBinary(ctx, argv[0], append(e.m.Env(), "DB_PATH="+filepath.Join(dir, "app.db"),
		"REPLICA_URL=s3://"+e.bucket+"/"+prefix), argv[1:]...)
	row := MemLimitRow{Case: name, OK: rerr == nil, ReadySec: r.wall.Seconds(), MaxMB: cg.MaxUsage() / 1e6, OOMKills: cg.OOMKills()}
	if rerr != nil {
		row.Error = lastLine(r.output)
	}
	return row, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
