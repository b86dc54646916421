package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memLimit is the memory limit of the memlimit case: issue 22 keeps a
// 1 GB database restorable inside 160 MiB.
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
	cg, err := newMemCgroup(memLimit)
	if err != nil {
		return MemLimitRow{}, err
	}
	defer cg.remove()
	dir, err := os.MkdirTemp(e.work, "memlimit-")
	if err != nil {
		return MemLimitRow{}, err
	}
	defer os.RemoveAll(dir)
	// The shell moves itself into the cgroup, then becomes bin/restore.
	sh := fmt.Sprintf("echo $$ > %s && exec %s", filepath.Join(cg.dir, "cgroup.procs"), e.restore)
	r, rerr := runRestoreBinary(ctx, "/bin/sh", append(e.m.Env(), "DB_PATH="+filepath.Join(dir, "app.db"),
		"REPLICA_URL=s3://"+e.bucket+"/"+prefix), "-c", sh)
	row := MemLimitRow{Case: name, OK: rerr == nil, ReadySec: r.wall.Seconds(), MaxMB: cg.maxUsage() / 1e6, OOMKills: cg.oomKills()}
	if rerr != nil {
		row.Error = lastLine(r.output)
	}
	return row, nil
}

// memCgroup is a memory cgroup (v2, or v1's memory controller) the bench
// made for one run.
type memCgroup struct {
	dir string
	v1  bool
}

// newMemCgroup makes a child of the bench's own memory cgroup limited to
// limit bytes.
func newMemCgroup(limit int64) (*memCgroup, error) {
	own, v1, err := ownMemCgroup()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(own, fmt.Sprintf("lsc-bench-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create a memory cgroup (the memlimit case needs root and a writable cgroup tree): %w", err)
	}
	cg := &memCgroup{dir: dir, v1: v1}
	file := "memory.max"
	if v1 {
		file = "memory.limit_in_bytes"
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

// ownMemCgroup is the directory of this process's memory cgroup.
func ownMemCgroup() (string, bool, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	var v2 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return filepath.Join("/sys/fs/cgroup/memory", parts[2]), true, nil
			}
		}
		if parts[0] == "0" {
			v2 = filepath.Join("/sys/fs/cgroup", parts[2])
		}
	}
	if v2 == "" {
		return "", false, errors.New("no memory cgroup in /proc/self/cgroup")
	}
	return v2, false, nil
}

// value is the number a one-value cgroup file holds; 0 when unreadable.
func (c *memCgroup) value(name string) float64 {
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return v
}

// field is the number after key in a "key value" per line cgroup file.
func (c *memCgroup) field(name, key string) float64 {
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return 0
}

func (c *memCgroup) maxUsage() float64 {
	if c.v1 {
		return c.value("memory.max_usage_in_bytes")
	}
	return c.value("memory.peak")
}

func (c *memCgroup) oomKills() int {
	if c.v1 {
		return int(c.field("memory.oom_control", "oom_kill"))
	}
	return int(c.field("memory.events", "oom_kill"))
}

// remove deletes the cgroup once its processes have exited.
func (c *memCgroup) remove() {
	for range 50 {
		if err := os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Printf("memlimit: could not remove %s", c.dir)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
