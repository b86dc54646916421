package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// SeveralCase is one bin/restore serving several databases (DB_PATH a
// comma-separated list, each replicated to REPLICA_URL/<file name>)
// against one serving a single database of the same total size, and peak
// memory against the number of databases: the proof that one restore
// serving several (docs/design.md "Several databases") is ready within
// 1.2x of one database of their total size, and that its memory does not
// grow with their number.
type SeveralCase struct {
	Kind  string       `json:"kind"`
	Runs  int          `json:"runs"`
	Rows  []SeveralRow `json:"rows"`
	Load  string       `json:"loadavg"`
	Notes []string     `json:"notes"`
	// TimeRatio: two × 500 MB over one × 1 GB, ready time (target <= 1.2).
	TimeRatio float64 `json:"two_500mb_over_one_1gb"`
	// RSSRatio: three × 300 MB over one × 300 MB, peak anonymous RSS. Above 1 while
	// one 300 MB restore does not fill the shared budget (Limits).
	RSSRatio float64 `json:"rss_three_300mb_over_one_300mb"`
	// RSSRatioSix: six × 300 MB over three × 300 MB, peak anonymous RSS (target ~1:
	// once the budget is full, more databases take no more memory).
	RSSRatioSix float64 `json:"rss_six_300mb_over_three_300mb"`
}

// SeveralRow is the medians of one DB_PATH layout.
type SeveralRow struct {
	Name       string  `json:"name"`
	DBs        int     `json:"databases"`
	DBBytes    int64   `json:"db_bytes_total"`
	ReadySec   float64 `json:"ready_s"`
	MBps       float64 `json:"db_mb_per_s"`
	PeakAnonMB float64 `json:"peak_anon_rss_mb"`
}

// layout is a set of databases restored by one bin/restore.
type layout struct {
	name   string
	prefix string // REPLICA_URL's prefix
	files  []string
	size   int64
}

// benchSeveral replicates the layouts, then restores each with bin/restore,
// interleaved run by run so load changes hit all of them alike.
func benchSeveral(ctx context.Context, e *env, runs int) (*SeveralCase, error) {
	const kind = "text"
	layouts := []layout{
		{name: "one × 1 GB", prefix: "several/one-1gb", files: []string{"app.db"}, size: 1e9},
		{name: "two × 500 MB", prefix: "several/two-500mb", files: []string{"a.db", "b.db"}, size: 500e6},
		{name: "one × 300 MB", prefix: "several/one-300mb", files: []string{"app.db"}, size: 300e6},
		{name: "three × 300 MB", prefix: "several/three-300mb", files: []string{"a.db", "b.db", "c.db"}, size: 300e6},
		{name: "six × 300 MB", prefix: "several/six-300mb", files: []string{"a.db", "b.db", "c.db", "d.db", "e.db", "f.db"}, size: 300e6},
	}
	c := &SeveralCase{Kind: kind, Runs: runs, Notes: []string{
		"bin/restore end to end (preflight, parallel restore, quick_check, fsync, rename, marker), one process for all databases of a row",
		"several databases: DB_PATH=/d/a.db,/d/b.db… and REPLICA_URL=s3://bench/PREFIX, each database at PREFIX/<file name>; one database: the replica is PREFIX itself",
		"the databases of a row are copies of one generated file, each replicated on its own as a snapshot",
		"peak RSS is the process's highest RssAnon (heap and stacks; not VmHWM, which counts the database pages the integrity check maps) read every 10 ms until it exits (growth in its last 10 ms is missed), the median of the runs",
	}}
	for _, l := range layouts {
		first := l.prefix
		if len(l.files) > 1 {
			first += "/" + l.files[0]
		}
		if !e.existing(ctx, first) {
			if err := e.replicateLayout(ctx, kind, l); err != nil {
				return nil, fmt.Errorf("%s: %w", l.name, err)
			}
		}
		defer e.dropPrefix(ctx, l.prefix)
	}
	ready := make([][]measurement, len(layouts))
	rss := make([][]float64, len(layouts))
	dbBytes := make([]int64, len(layouts))
	for r := range runs {
		for i, l := range layouts {
			log.Printf("several: %s, run %d/%d", l.name, r+1, runs)
			m, n, err := e.runSeveral(ctx, l)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", l.name, err)
			}
			ready[i], rss[i], dbBytes[i] = append(ready[i], m), append(rss[i], m.anonMB), n
		}
	}
	for i, l := range layouts {
		row := SeveralRow{Name: l.name, DBs: len(l.files), DBBytes: dbBytes[i],
			ReadySec: median(ready[i], func(m measurement) time.Duration { return m.ready }), PeakAnonMB: pct(rss[i], 0.5)}
		row.MBps = float64(row.DBBytes) / 1e6 / row.ReadySec
		c.Rows = append(c.Rows, row)
	}
	c.TimeRatio = c.Rows[1].ReadySec / c.Rows[0].ReadySec
	c.RSSRatio = c.Rows[3].PeakAnonMB / c.Rows[2].PeakAnonMB
	c.RSSRatioSix = c.Rows[4].PeakAnonMB / c.Rows[3].PeakAnonMB
	c.Load = loadavg()
	return c, nil
}

// replicateLayout generates one database of l.size and replicates a copy of
// it for every file of l, as a snapshot, to where bin/restore will look.
func (e *env) replicateLayout(ctx context.Context, kind string, l layout) error {
	src := filepath.Join(e.work, "several-src.db")
	defer removeSource(src)
	log.Printf("several: %s: generating %d bytes", l.name, l.size)
	if err := generate(src, kind, l.size); err != nil {
		return err
	}
	for _, f := range l.files {
		prefix := l.prefix
		if len(l.files) > 1 {
			prefix += "/" + f
		}
		// A fresh Litestream state each time, so each replica starts with
		// its own snapshot, as a sidecar's first sync makes it.
		os.RemoveAll(ltxstate.MetaDir(src))
		if err := replicateSnapshot(ctx, e.m, e.bucket, prefix, src); err != nil {
			return fmt.Errorf("replicate %s: %w", f, err)
		}
	}
	return nil
}

// runSeveral runs bin/restore once for every database of l into a fresh
// directory: the measurement (time to ready, peak RSS) and the bytes restored.
func (e *env) runSeveral(ctx context.Context, l layout) (measurement, int64, error) {
	dir, err := os.MkdirTemp(e.work, "several-")
	if err != nil {
		return measurement{}, 0, err
	}
	defer os.RemoveAll(dir)
	paths := make([]string, len(l.files))
	for i, f := range l.files {
		paths[i] = filepath.Join(dir, f)
	}
	r, err := runRestoreBinary(ctx, e.restore, append(e.m.Env(), "DB_PATH="+strings.Join(paths, ","),
		"REPLICA_URL=s3://"+e.bucket+"/"+l.prefix))
	if err != nil {
		return measurement{}, 0, err
	}
	m := measurement{ready: r.wall, phases: r.phases, peakMB: r.peakMB, anonMB: r.anonMB}
	var n int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return measurement{}, 0, err
		}
		n += fi.Size()
	}
	return m, n, nil
}
