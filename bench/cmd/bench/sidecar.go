package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"log"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// SidecarCase is the replicate binary under load.
type SidecarCase struct {
	Lag          []LagRow  `json:"lag"`
	WriteCost    WriteCost `json:"write_cost"`
	IdleRSSMB    float64   `json:"idle_rss_mb"`
	IdleCPUPct   float64   `json:"idle_cpu_pct"`
	LoadedRSSMB  float64   `json:"loaded_peak_rss_mb"`
	LoadedCPUPct float64   `json:"loaded_cpu_pct"`
	NoopStartMs  float64   `json:"restore_noop_ms"`
	NoopRemoteMs float64   `json:"restore_noop_remote_ms"` // through a proxy adding noopLatency each way
	NoopDBBytes  int64     `json:"restore_noop_db_bytes"`
	Notes        []string  `json:"notes"`
}

// LagRow is replication lag under a steady write rate.
type LagRow struct {
	Rate     int     `json:"writes_per_s"`
	Achieved float64 `json:"achieved_writes_per_s"`
	// From the sidecar's litestream_sidecar_replica_lag_seconds, sampled every 200 ms.
	MetricP50, MetricP99, MetricMax float64
	MetricSamples                   int
	// End to end, per write: the time from its commit in the app to the
	// upload (LastModified) of the first L0 file that holds it, found by
	// decoding every L0 file's pages.
	ReplicaP50, ReplicaP99, ReplicaMax float64
	Writes, Unreplicated, Syncs        int
	// Agree: the gauge's p50, p99 and max are each within one sync
	// interval of the measured lag's: the gauge counts the WAL too
	// (docs/operations.md "Metrics and alerts").
	Agree bool `json:"gauge_agrees_within_sync_interval"`
}

// WriteCost is the app's single-row write throughput without and with the sidecar.
type WriteCost struct {
	Without float64 `json:"writes_per_s_without"`
	With    float64 `json:"writes_per_s_with"`
	Ratio   float64 `json:"with_over_without"`
}

const syncInterval = time.Second

// benchSidecar measures the replicate binary; lagOnly keeps to the lag
// rows under 200 and 2,000 writes/s (-cases lag).
func benchSidecar(ctx context.Context, e *env, lagOnly bool) (*SidecarCase, error) {
	s := &SidecarCase{Notes: []string{
		"replicate runs with SYNC_INTERVAL=1s, LEASE=true against the bench MinIO; the app writes one row per transaction (WAL, synchronous=NORMAL) from the bench process",
		"CPU is utime+stime of the replicate process over the window, in % of one core",
		"write cost: median of 3 alternating 3 s runs each way, max-rate single-row transactions",
		"the lag metric is pkg/replicate's gauge: the age of the oldest commit not in the replica, in L0 files or still in the WAL (pkg/replicate/lag.go); " +
			"it is sampled at moments, the measured lag per write, so their distributions are compared: agree = p50, p99 and max each within one sync interval",
	}}
	rates := []int{0, 200, 2000}
	if lagOnly {
		rates = rates[1:]
	}
	// Idle, then 200 and 2,000 writes/s.
	for _, rate := range rates {
		row, rss, cpu, err := e.lagRun(ctx, rate, 15*time.Second)
		if err != nil {
			return nil, err
		}
		switch rate {
		case 0:
			s.IdleRSSMB, s.IdleCPUPct = rss, cpu
		case 2000:
			s.LoadedRSSMB, s.LoadedCPUPct = rss, cpu
			fallthrough
		default:
			s.Lag = append(s.Lag, row)
		}
	}
	if lagOnly {
		return s, nil
	}
	wc, err := e.writeCost(ctx, 3*time.Second)
	if err != nil {
		return nil, err
	}
	s.WriteCost = wc
	if s.NoopStartMs, s.NoopRemoteMs, s.NoopDBBytes, err = e.noopStart(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// sidecar is a running replicate binary.
type sidecar struct {
	*testenv.Process
	metrics string
	prefix  string
}

// startSidecar starts replicate on dbPath; its log (LOG_LEVEL=warn) goes to
// the bench's stderr as it comes.
func (e *env) startSidecar(dbPath, prefix string) (*sidecar, error) {
	addr, err := testenv.FindFreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := testenv.StartProcessTee(os.Stderr, filepath.Join(filepath.Dir(e.restore), "replicate"),
		append(e.m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://"+e.bucket+"/"+prefix,
			"METRICS_ADDR="+addr, "SYNC_INTERVAL="+syncInterval.String(), "LOG_LEVEL=warn"))
	if err != nil {
		return nil, err
	}
	sc := &sidecar{Process: p, metrics: "http://" + addr + "/metrics", prefix: prefix}
	if err := testenv.WaitHTTP(sc.metrics, 20*time.Second, p); err != nil {
		sc.stop()
		return nil, fmt.Errorf("replicate: %w", err)
	}
	return sc, nil
}

func (s *sidecar) stop() { s.Terminate(30 * time.Second) }

// lag reads litestream_sidecar_replica_lag_seconds; ok is false if absent.
func (s *sidecar) lag() (float64, bool) {
	resp, err := http.Get(s.metrics)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "litestream_sidecar_replica_lag_seconds "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// openApp opens a database as the test app does (testenv's: WAL, one
// writer, one row format), with synchronous=NORMAL as apps commonly run.
func openApp(path string) (*sql.DB, error) { return testenv.OpenAppDB(path, "NORMAL") }

// lagRun writes at rate for d with the sidecar running and samples lag,
// RSS and CPU. Rate 0 is the idle measurement.
func (e *env) lagRun(ctx context.Context, rate int, d time.Duration) (LagRow, float64, float64, error) {
	dir, err := os.MkdirTemp(e.work, "lag-")
	if err != nil {
		return LagRow{}, 0, 0, err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "app.db")
	db, err := openApp(dbPath)
	if err != nil {
		return LagRow{}, 0, 0, err
	}
	defer db.Close()
	prefix := fmt.Sprintf("lag-%d", rate)
	defer e.removePrefix(ctx, prefix)
	sc, err := e.startSidecar(dbPath, prefix)
	if err != nil {
		return LagRow{}, 0, 0, err
	}
	defer sc.stop()
	time.Sleep(3 * syncInterval) // first sync and snapshot out of the way
	log.Printf("sidecar: %d writes/s for %s", rate, d)

	cpu0 := procCPU(sc.Pid())
	start := time.Now()
	var samples []float64
	var commits []time.Time
	done := 0
	tick := time.NewTicker(5 * time.Millisecond)
	next := time.Now()
	for time.Since(start) < d {
		<-tick.C
		for want := int(float64(rate) * time.Since(start).Seconds()); done < want; done++ {
			// Row id done+1: replicaLag finds it by its body in the L0 files.
			if err := testenv.Insert(db, done+1, testenv.Body(done+1)); err != nil {
				tick.Stop()
				return LagRow{}, 0, 0, err
			}
			commits = append(commits, time.Now())
		}
		if time.Now().After(next) {
			if v, ok := sc.lag(); ok {
				samples = append(samples, v)
			}
			next = time.Now().Add(200 * time.Millisecond)
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	cpu := (procCPU(sc.Pid()) - cpu0) / elapsed.Seconds() * 100
	rss := procRSS(sc.Pid(), "VmHWM")
	if rate == 0 {
		rss = procRSS(sc.Pid(), "VmRSS")
	}
	row := LagRow{Rate: rate, Achieved: float64(done) / elapsed.Seconds(), MetricSamples: len(samples)}
	row.MetricP50, row.MetricP99, row.MetricMax = pct(samples, 0.5), pct(samples, 0.99), pct(samples, 1)
	time.Sleep(2 * syncInterval) // let the last writes land before reading the replica
	up, syncs, err := e.replicaLag(ctx, prefix, commits)
	if err != nil {
		return LagRow{}, 0, 0, err
	}
	row.Writes, row.Unreplicated, row.Syncs = len(commits), len(commits)-len(up), syncs
	row.ReplicaP50, row.ReplicaP99, row.ReplicaMax = pct(up, 0.5), pct(up, 0.99), pct(up, 1)
	within := func(a, b float64) bool { return math.Abs(a-b) <= syncInterval.Seconds() }
	row.Agree = within(row.MetricP50, row.ReplicaP50) && within(row.MetricP99, row.ReplicaP99) && within(row.MetricMax, row.ReplicaMax)
	return row, rss, cpu, nil
}

// writeCost is the app's maximum single-row write rate for d, without and
// then with the sidecar replicating the same kind of database.
func (e *env) writeCost(ctx context.Context, d time.Duration) (WriteCost, error) {
	rate := func(withSidecar bool) (float64, error) {
		dir, err := os.MkdirTemp(e.work, "wc-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		dbPath := filepath.Join(dir, "app.db")
		db, err := openApp(dbPath)
		if err != nil {
			return 0, err
		}
		defer db.Close()
		if withSidecar {
			defer e.removePrefix(ctx, "write-cost")
			sc, err := e.startSidecar(dbPath, "write-cost")
			if err != nil {
				return 0, err
			}
			defer sc.stop()
			time.Sleep(3 * syncInterval)
		}
		start, n := time.Now(), 0
		for ; time.Since(start) < d; n++ {
			if err := testenv.Insert(db, n+1, testenv.Body(n+1)); err != nil {
				return 0, err
			}
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	log.Printf("sidecar: write throughput without and with replicate (3 alternating pairs)")
	var without, with []float64
	for range 3 {
		a, err := rate(false)
		if err != nil {
			return WriteCost{}, err
		}
		b, err := rate(true)
		if err != nil {
			return WriteCost{}, err
		}
		without, with = append(without, a), append(with, b)
	}
	wc := WriteCost{Without: pct(without, 0.5), With: pct(with, 0.5)}
	wc.Ratio = wc.With / wc.Without
	return wc, nil
}

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// procCPU is utime+stime of pid in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}

// procRSS reads a /proc/PID/status memory field (VmRSS: now, VmHWM: peak), in MB.
func procRSS(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
