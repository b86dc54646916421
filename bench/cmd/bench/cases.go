package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // Litestream's driver: writes while the library replicates the file

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// Results is bench/results.json.
type Results struct {
	Started   time.Time    `json:"started"`
	GoVersion string       `json:"go_version"`
	CPUs      int          `json:"cpus"`
	LoadStart string       `json:"loadavg_start"`
	LoadEnd   string       `json:"loadavg_end"`
	Seconds   float64      `json:"total_seconds"`
	Notes     []string     `json:"notes"`
	Restore   []Case       `json:"restore"`
	Several   *SeveralCase `json:"several,omitempty"`
	Sidecar   *SidecarCase `json:"sidecar,omitempty"`
}

// Case is one replica restored by every method.
type Case struct {
	Name      string   `json:"name"`
	DBBytes   int64    `json:"db_bytes"`
	PlanFiles int      `json:"plan_files"`
	PlanBytes int64    `json:"plan_bytes"`
	Runs      int      `json:"runs"`
	Identical *bool    `json:"identical_to_upstream,omitempty"`
	Rows      []Row    `json:"rows"`
	Ratios    []Ratio  `json:"ratios"`
	Load      string   `json:"loadavg"`
	Notes     []string `json:"notes,omitempty"`
	// MemLimit is bin/restore inside a 160 MiB memory cgroup (1 GiB and up).
	MemLimit *MemLimitRow `json:"memlimit,omitempty"`
}

// Row is one method's medians.
type Row struct {
	Method      string  `json:"method"`
	DownloadSec float64 `json:"download_s,omitempty"`
	ReadySec    float64 `json:"ready_s"`
	MBps        float64 `json:"db_mb_per_s"`
	Requests    int64   `json:"requests,omitempty"`
	// bin/restore only: the median of each phase (binrun.go) and of peak RSS.
	Phases     map[string]float64 `json:"phases_s,omitempty"`
	PeakRSSMB  float64            `json:"peak_rss_mb,omitempty"`
	PeakAnonMB float64            `json:"peak_anon_rss_mb,omitempty"`
}

// Ratio is a/b of two methods' medians (below 1: a is faster). Min and
// Max are a/b within each round: the methods of a round run one after
// the other, so the spread shows how far load moved the ratio.
type Ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Min   float64 `json:"round_min,omitempty"`
	Max   float64 `json:"round_max,omitempty"`
}

// benchRestore generates, replicates and restores one database.
func benchRestore(ctx context.Context, e *env, kind, label string, size int64, runs int) (Case, error) {
	name := fmt.Sprintf("%s %s", label, kind)
	prefix := fmt.Sprintf("restore/%s-%s", kind, label)
	if e.existing(ctx, prefix) {
		log.Printf("%s: using the replica kept by -keep", name)
	} else {
		src := filepath.Join(e.work, "src.db")
		log.Printf("%s: generating", name)
		if err := generate(src, kind, size); err != nil {
			return Case{}, err
		}
		fi, err := os.Stat(src)
		if err != nil {
			return Case{}, err
		}
		log.Printf("%s: replicating %d bytes with the Litestream library", name, fi.Size())
		if err := replicateSnapshot(ctx, e.m, e.bucket, prefix, src); err != nil {
			return Case{}, err
		}
		removeSource(src)
	}
	defer e.dropPrefix(ctx, prefix)
	c := Case{Name: name, Runs: runs}
	if err := e.measure(ctx, &c, prefix, runs); err != nil {
		return c, err
	}
	if e.memlimit && size >= 1<<30 {
		row, err := e.runLimited(ctx, name, prefix)
		if err != nil {
			c.Notes = append(c.Notes, "memlimit: "+err.Error())
		} else {
			c.MemLimit = &row
		}
	}
	return c, nil
}

// measure runs every method runs times after a warm-up round, interleaved
// so that load changes hit all of them alike, and fills c.
func (e *env) measure(ctx context.Context, c *Case, prefix string, runs int) error {
	plan, err := e.plan(ctx, prefix)
	if err != nil {
		return err
	}
	c.PlanFiles = len(plan)
	for _, p := range plan {
		c.PlanBytes += p.Size
	}
	if c.DBBytes, err = ltxrestore.PlanSize(ctx, s3Client(e.m, e.bucket, prefix), plan); err != nil {
		return err
	}
	all := map[string][]measurement{}
	libOut, upOut := filepath.Join(e.work, "keep-lib.db"), filepath.Join(e.work, "keep-upstream.db")
	defer os.Remove(libOut)
	defer os.Remove(upOut)
	// Generating a case leaves gigabytes dirty in the page cache (the
	// source database, MinIO's objects); flushed in the background, they
	// would slow whichever runs come first. And the first round pays for
	// what no later one does (MinIO reading its objects from disk, a
	// fresh VM's memory touched for the first time), so it is not counted.
	unix.Sync()
	for r := -1; r < runs; r++ {
		warmup := r < 0
		if warmup {
			log.Printf("%s: warm-up round (not counted)", c.Name)
		} else {
			log.Printf("%s: run %d/%d", c.Name, r+1, runs)
		}
		keepLib, keepUp := "", ""
		if r == 0 {
			keepLib, keepUp = libOut, upOut
		}
		type step struct {
			method string
			fn     func() (measurement, error)
		}
		var steps []step
		add := func(method, name string, fn func() (measurement, error)) {
			if e.methods[name] {
				steps = append(steps, step{method, fn})
			}
		}
		add(mRaw, "raw", func() (measurement, error) { return e.runRaw(ctx, prefix, false) })
		add(mRawWB, "rawwb", func() (measurement, error) { return e.runRaw(ctx, prefix, true) })
		add(mLib, "lib", func() (measurement, error) { return e.runLib(ctx, prefix, keepLib) })
		add(mUpstream, "upstream", func() (measurement, error) { return e.runUpstream(ctx, prefix, keepUp) })
		add(mBin, "bin", func() (measurement, error) { return e.runBin(ctx, e.restore, prefix) })
		if e.before != "" {
			steps = append(steps, step{mBefore, func() (measurement, error) { return e.runBin(ctx, e.before, prefix) }})
		}
		for _, s := range steps {
			m, err := s.fn()
			if err != nil {
				return fmt.Errorf("%s: %w", s.method, err)
			}
			if warmup {
				continue
			}
			all[s.method] = append(all[s.method], m)
			if m.warning != "" && !slices.Contains(c.Notes, m.warning) {
				c.Notes = append(c.Notes, m.warning)
			}
		}
		if r == 0 && e.methods["lib"] && e.methods["upstream"] {
			same, err := sameFile(libOut, upOut)
			if err != nil {
				return err
			}
			c.Identical = &same
			os.Remove(libOut)
			os.Remove(upOut)
		}
	}
	for _, method := range []string{mRaw, mRawWB, mLib, mUpstream, mBin, mBefore} {
		ms := all[method]
		if len(ms) == 0 {
			continue // mBefore without -restore-before
		}
		row := Row{Method: method, DownloadSec: median(ms, func(m measurement) time.Duration { return m.download }),
			ReadySec: median(ms, func(m measurement) time.Duration { return m.ready }), Requests: ms[0].requests}
		basis := row.DownloadSec
		if basis == 0 {
			basis = row.ReadySec
		}
		row.MBps = float64(c.DBBytes) / 1e6 / basis
		row.Phases = medianPhases(ms)
		if peaks := positive(ms, func(m measurement) float64 { return m.peakMB }); len(peaks) > 0 {
			row.PeakRSSMB = medianOf(peaks)
			row.PeakAnonMB = medianOf(positive(ms, func(m measurement) float64 { return m.anonMB }))
		}
		c.Rows = append(c.Rows, row)
	}
	download := func(m measurement) time.Duration { return m.download }
	ready := func(m measurement) time.Duration { return m.ready }
	ratio := func(name, a, b string, f func(measurement) time.Duration) {
		if len(all[a]) == 0 || len(all[b]) == 0 { // not both methods ran
			return
		}
		ma, mb := median(all[a], f), median(all[b], f)
		if ma <= 0 || mb <= 0 { // a method that times no download
			return
		}
		r := Ratio{Name: name, Value: ma / mb}
		var rounds []float64
		for i := range min(len(all[a]), len(all[b])) {
			if d := f(all[b][i]); d > 0 {
				rounds = append(rounds, float64(f(all[a][i]))/float64(d))
			}
		}
		if len(rounds) > 0 {
			r.Min, r.Max = slices.Min(rounds), slices.Max(rounds)
		}
		c.Ratios = append(c.Ratios, r)
	}
	ratio("download ours(lib)/upstream", mLib, mUpstream, download)
	ratio("download ours(lib)/raw", mLib, mRaw, download)
	ratio("ready ours(lib)/upstream", mLib, mUpstream, ready)
	ratio("ready ours(bin)/upstream", mBin, mUpstream, ready)
	ratio("ready ours(bin)/raw", mBin, mRaw, ready)
	ratio("ready ours(bin)/raw written as ours writes", mBin, mRawWB, ready)
	if e.before != "" {
		ratio("ready ours(bin)/ours(bin, before)", mBin, mBefore, ready)
	}
	c.Load = loadavg()
	return nil
}

// positive is f of each measurement where it is above 0.
func positive(ms []measurement, f func(measurement) float64) []float64 {
	var v []float64
	for _, m := range ms {
		if x := f(m); x > 0 {
			v = append(v, x)
		}
	}
	return v
}

// medianPhases is the median of each phase the runs report; nil when none do.
func medianPhases(ms []measurement) map[string]float64 {
	var out map[string]float64
	for _, p := range phases {
		var got []float64
		for _, m := range ms {
			if v, ok := m.phases[p]; ok {
				got = append(got, v)
			}
		}
		if len(got) == 0 {
			continue
		}
		if out == nil {
			out = map[string]float64{}
		}
		out[p] = medianOf(got)
	}
	return out
}

func median(ms []measurement, f func(measurement) time.Duration) float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m).Seconds()
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// benchManyTxns: a snapshot, then txns single-row transactions each synced
// on its own, so the plan holds one file per transaction.
func benchManyTxns(ctx context.Context, e *env, txns, runs int) (Case, error) {
	name := fmt.Sprintf("10MB text + %d small transactions", txns)
	prefix := "restore/many-txns"
	path := filepath.Join(e.work, "many.db")
	log.Printf("%s: generating", name)
	if err := generate(path, "text", 10e6); err != nil {
		return Case{}, err
	}
	src, err := openSource(ctx, path, s3Client(e.m, e.bucket, prefix))
	if err != nil {
		return Case{}, err
	}
	if err := src.snapshot(ctx); err != nil {
		return Case{}, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(wal)")
	if err != nil {
		return Case{}, err
	}
	db.SetMaxOpenConns(1)
	start := time.Now()
	for i := range txns {
		if _, err := db.Exec(`INSERT INTO items (body) VALUES (?)`, fmt.Sprintf("small transaction %d", i)); err != nil {
			return Case{}, err
		}
		if err := src.sync(ctx); err != nil {
			return Case{}, err
		}
		if (i+1)%2000 == 0 {
			log.Printf("%s: %d transactions replicated (%.0f/s)", name, i+1, float64(i+1)/time.Since(start).Seconds())
		}
	}
	db.Close()
	if err := src.close(ctx); err != nil {
		return Case{}, err
	}
	removeSource(path)
	defer e.dropPrefix(ctx, prefix)
	c := Case{Name: name, Runs: runs}
	return c, e.measure(ctx, &c, prefix, runs)
}

// removeSource deletes a database and Litestream's files beside it.
func removeSource(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	os.RemoveAll(ltxstate.MetaDir(path))
}

// removePrefix frees MinIO's disk between cases.
func (e *env) removePrefix(ctx context.Context, prefix string) {
	mc := e.m.Client()
	objs := mc.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true})
	for err := range mc.RemoveObjects(ctx, e.bucket, objs, minio.RemoveObjectsOptions{}) {
		log.Printf("remove %s: %v", err.ObjectName, err.Err)
	}
}
