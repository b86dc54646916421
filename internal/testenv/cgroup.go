package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MemCgroup is a memory cgroup (v2, or v1's memory controller) made for
// one run of a process (the bench's memlimit case, tests of the memory
// limit); it needs root and a writable cgroup tree.
type MemCgroup struct {
	Dir string // cgroup.procs in it takes a process
	v1  bool
}

// NewMemCgroup makes a child of this process's memory cgroup limited to
// limit bytes.
func NewMemCgroup(limit int64) (*MemCgroup, error) {
	own, v1, err := ownMemCgroup()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(own, fmt.Sprintf("lsc-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create a memory cgroup (needs root and a writable cgroup tree): %w", err)
	}
	cg := &MemCgroup{Dir: dir, v1: v1}
	file := "memory.max"
	if v1 {
		file = "memory.limit_in_bytes"
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		cg.Remove()
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
func (c *MemCgroup) value(name string) float64 {
	b, err := os.ReadFile(filepath.Join(c.Dir, name))
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return v
}

// field is the number after key in a "key value" per line cgroup file.
func (c *MemCgroup) field(name, key string) float64 {
	b, err := os.ReadFile(filepath.Join(c.Dir, name))
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

// Command is the argv that runs bin inside the cgroup: a shell moves itself
// into it, then becomes bin, so that bin starts there (its first
// allocation counts).
func (c *MemCgroup) Command(bin string) []string {
	return []string{"/bin/sh", "-c", fmt.Sprintf("echo $$ > %s && exec %s", filepath.Join(c.Dir, "cgroup.procs"), bin)}
}

// MaxUsage is the most memory the cgroup held, page cache included.
func (c *MemCgroup) MaxUsage() float64 {
	if c.v1 {
		return c.value("memory.max_usage_in_bytes")
	}
	return c.value("memory.peak")
}

// OOMKills is how many processes the kernel killed in it for memory.
func (c *MemCgroup) OOMKills() int {
	if c.v1 {
		return int(c.field("memory.oom_control", "oom_kill"))
	}
	return int(c.field("memory.events", "oom_kill"))
}

// Remove deletes the cgroup once its processes have exited.
func (c *MemCgroup) Remove() {
	for range 50 {
		if err := os.Remove(c.Dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "testenv: could not remove the cgroup %s\n", c.Dir)
}
