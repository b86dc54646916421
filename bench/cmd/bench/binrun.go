package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// phases are the parts of bin/restore's time its "restored" line reports
// (pkg/restore), in the order they run. "process" is what the line cannot
// see: exec, the Go runtime's start, reading the configuration, exit;
// wall time minus the line's duration.
var phases = []string{"plan", "download", "fsync", "check", "install", "marker", "process"}

// binRun is one run of a restore binary.
type binRun struct {
	wall   time.Duration
	peakMB float64            // VmHWM, read every 10 ms until it exits
	anonMB float64            // the highest RssAnon read: heap and stacks, not the mapped database
	phases map[string]float64 // seconds per phase; several databases: the slowest one's
	output string
}

// runRestoreBinary runs bin with env (DB_PATH, REPLICA_URL…) at LOG_LEVEL=info
// in JSON, and reads where its time went from its "restored" lines.
func runRestoreBinary(ctx context.Context, bin string, env []string, args ...string) (binRun, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(env, "HOME="+os.Getenv("HOME"), "RESTORE_TIMEOUT=15m", "LOG_LEVEL=info", "LOG_FORMAT=json")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return binRun{}, err
	}
	// Peak RSS is the process's VmHWM, read until it exits. Not getrusage's
	// maxrss: Linux carries the forking parent's (the bench's) high-water
	// mark over an exec, so every child would report the bench's own.
	// VmHWM counts the database pages the integrity check maps (file
	// pages, reclaimable), so RssAnon is read beside it.
	done, peakc := make(chan struct{}), make(chan [2]float64)
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var peak [2]float64
		for {
			peak[0] = max(peak[0], procRSS(cmd.Process.Pid, "VmHWM"))
			peak[1] = max(peak[1], procRSS(cmd.Process.Pid, "RssAnon"))
			select {
			case <-done:
				peakc <- peak
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	r := binRun{wall: time.Since(start), output: out.String()}
	close(done)
	peak := <-peakc
	r.peakMB, r.anonMB = peak[0], peak[1]
	if err != nil {
		return r, fmt.Errorf("%s: %w: %s", bin, err, r.output)
	}
	r.phases = restoredPhases(r.output, r.wall)
	return r, nil
}

// restoredPhases reads the *_duration fields of every "restored" line in
// out (one per database) and keeps, per phase, the longest. Phases a build
// does not report are left out.
func restoredPhases(out string, wall time.Duration) map[string]float64 {
	p := map[string]float64{}
	var longest float64
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "restored" {
			continue
		}
		for k, v := range line {
			name, ok := strings.CutSuffix(k, "_duration")
			if k == "duration" {
				name, ok = "total", true
			}
			s, isStr := v.(string)
			if !ok || !isStr {
				continue
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				continue
			}
			p[name] = max(p[name], d.Seconds())
		}
		longest = max(longest, p["total"])
	}
	if longest > 0 {
		p["process"] = wall.Seconds() - longest
	}
	delete(p, "total")
	return p
}
