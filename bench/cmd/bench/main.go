// Command bench measures restore and replication against a local MinIO and
// prints a table (also written to bench/results.json). Run it with
// `make bench`; it is not a test and nothing in `make test` depends on it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/internal/tlsenv"
)

// allCases is every section of the bench, in the order it runs.
var allCases = []string{"restore", "txns", "several", "sidecar"}

// allMethods are the restore methods of a restore case (-methods); the
// earlier build runs when -restore-before names one.
var allMethods = []string{"raw", "rawwb", "lib", "upstream", "bin"}

// options is the command line.
type options struct {
	sizes, kinds          string
	runs, txns            int
	out, upstream, binary string
	before                string
	keep                  string // MinIO's data and the replicas, kept between runs
	memlimit              bool
	cases                 map[string]bool
	methods               map[string]bool
}

func main() {
	var o options
	flag.StringVar(&o.sizes, "sizes", "10MB,200MB,1GiB,4GiB", "database sizes to restore")
	flag.StringVar(&o.kinds, "kinds", "text,blob", "text (compressible rows) and/or blob (incompressible)")
	flag.IntVar(&o.runs, "runs", 3, "runs per figure (the median is reported)")
	flag.IntVar(&o.txns, "txns", 10000, "small transactions after the snapshot in the many-files case (0 skips it)")
	sidecar := flag.Bool("sidecar", true, "measure replication lag, write cost, RSS/CPU and start-up")
	cases := flag.String("cases", envOr("BENCH_CASES", strings.Join(allCases, ",")),
		"sections to run (default $BENCH_CASES, else all): restore (sizes x kinds), txns (many small transactions), "+
			"several (several databases in one restore), sidecar (lag, write cost, RSS/CPU, start-up), lag (the sidecar's lag rows only)")
	flag.StringVar(&o.out, "out", "bench/results.json", "JSON results file")
	flag.StringVar(&o.upstream, "upstream", ".bin/litestream", "upstream litestream v0.5.18 binary")
	flag.StringVar(&o.binary, "restore", "bin/restore", "our restore binary (make build)")
	flag.StringVar(&o.before, "restore-before", "", "an earlier build of bin/restore, measured beside it in each restore case (a regression check within one run)")
	flag.StringVar(&o.keep, "keep", "", "a directory to keep MinIO's data in between runs: replicas already there are not generated again (for iterating on one case)")
	flag.BoolVar(&o.memlimit, "memlimit", true, "also restore each database of 1 GiB and more inside a 160 MiB memory cgroup (needs root)")
	methods := flag.String("methods", strings.Join(allMethods, ","), "restore methods to run, of "+strings.Join(allMethods, ","))
	flag.Parse()
	log.SetFlags(log.Ltime)
	tlsenv.Apply("") // AWS_CA_BUNDLE breaks Litestream's S3 client, as in pkg/engine

	o.cases = map[string]bool{}
	for _, c := range strings.Split(*cases, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if c != "lag" && !slices.Contains(allCases, c) {
			log.Fatalf("-cases: unknown section %q (want %s or lag)", c, strings.Join(allCases, ", "))
		}
		o.cases[c] = true
	}
	o.methods = map[string]bool{}
	for _, m := range strings.Split(*methods, ",") {
		if m = strings.TrimSpace(m); !slices.Contains(allMethods, m) {
			log.Fatalf("-methods: unknown method %q (want %s)", m, strings.Join(allMethods, ", "))
		}
		o.methods[m] = true
	}
	if !*sidecar {
		delete(o.cases, "sidecar")
		delete(o.cases, "lag")
	}
	if o.txns <= 0 {
		delete(o.cases, "txns")
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	ctx := context.Background()
	started := time.Now()
	res := &Results{Started: started.UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), LoadStart: loadavg(),
		Notes: []string{
			"each figure is the median of the runs listed, after a warm-up round of every method that is not counted and a sync of what generating the case left dirty; the machine is shared, see load averages",
			"MinIO serves from local disk on 127.0.0.1 and the page cache is warm after the warm-up round, so differences are CPU and protocol, not network",
			"download: plan + fetch + decode + write + fsync; ready: download + PRAGMA quick_check (bin/restore: whole process incl. preflight, rename, marker)",
		}}
	work := o.keep
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "litestream-sidecar-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	m, err := testenv.StartMinIO(filepath.Join(work, "minio"))
	if err != nil {
		return err
	}
	defer m.Stop()
	e := &env{m: m, bucket: "bench", upstream: abs(o.upstream), restore: abs(o.binary), work: work,
		reuse: o.keep != "", methods: o.methods, memlimit: o.memlimit}
	if o.before != "" {
		e.before = abs(o.before)
	}
	if ok, err := m.Client().BucketExists(ctx, e.bucket); err != nil {
		return err
	} else if !ok {
		if err := m.MakeBucket(ctx, e.bucket); err != nil {
			return err
		}
	}
	for _, p := range []string{e.upstream, e.restore} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (run `make build tools-bench`)", err)
		}
	}

	for _, kind := range strings.Split(o.kinds, ",") {
		for _, s := range strings.Split(o.sizes, ",") {
			if !o.cases["restore"] || kind == "" || s == "" {
				continue
			}
			size, err := parseSize(s)
			if err != nil {
				return err
			}
			c, err := benchRestore(ctx, e, kind, s, size, o.runs)
			if err != nil {
				return fmt.Errorf("restore %s %s: %w", kind, s, err)
			}
			res.Restore = append(res.Restore, c)
			printCase(c)
		}
	}
	if o.cases["txns"] {
		c, err := benchManyTxns(ctx, e, o.txns, o.runs)
		if err != nil {
			return fmt.Errorf("many transactions: %w", err)
		}
		res.Restore = append(res.Restore, c)
		printCase(c)
	}
	if o.cases["several"] {
		c, err := benchSeveral(ctx, e, o.runs)
		if err != nil {
			return fmt.Errorf("several databases: %w", err)
		}
		res.Several = c
		printSeveral(c)
	}
	if o.cases["sidecar"] || o.cases["lag"] {
		s, err := benchSidecar(ctx, e, !o.cases["sidecar"])
		if err != nil {
			return fmt.Errorf("sidecar: %w", err)
		}
		res.Sidecar = s
		printSidecar(s)
	}
	res.LoadEnd, res.Seconds = loadavg(), time.Since(started).Seconds()
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("\nload average at start %s, at end %s; total %.0f s; results in %s\n", res.LoadStart, res.LoadEnd, res.Seconds, o.out)
	return os.WriteFile(o.out, append(b, '\n'), 0o644)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"GB", 1e9}, {"MB", 1e6}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err != nil {
				return 0, fmt.Errorf("size %q: %w", s, err)
			}
			return n * u.n, nil
		}
	}
	return 0, fmt.Errorf("size %q: want a number with MB, MiB, GB or GiB", s)
}
