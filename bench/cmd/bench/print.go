package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
)

func printCase(c Case) {
	same := "not compared"
	if c.Identical != nil {
		same = fmt.Sprintf("identical to upstream's restore: %v", *c.Identical)
	}
	fmt.Printf("\n== restore %s: database %.1f MB, plan %d files / %.1f MB, median of %d run(s), load %s; %s\n",
		c.Name, float64(c.DBBytes)/1e6, c.PlanFiles, float64(c.PlanBytes)/1e6, c.Runs, c.Load, same)
	for _, n := range c.Notes {
		fmt.Printf("   note: %s\n", n)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "method\tdownload s\tready s\tDB MB/s\trequests\t")
	for _, r := range c.Rows {
		dl, req := "-", "-"
		if r.DownloadSec > 0 {
			dl = fmt.Sprintf("%.3f", r.DownloadSec)
		}
		if r.Requests > 0 {
			req = fmt.Sprint(r.Requests)
		}
		fmt.Fprintf(w, "%s\t%s\t%.3f\t%.0f\t%s\t\n", r.Method, dl, r.ReadySec, r.MBps, req)
	}
	w.Flush()
	for _, r := range c.Ratios {
		fmt.Printf("   %s = %.2f (within a round: %.2f-%.2f)\n", r.Name, r.Value, r.Min, r.Max)
	}
	for _, r := range c.Rows {
		if r.Phases != nil {
			printPhases(r)
		}
	}
	if m := c.MemLimit; m != nil {
		status := "ready"
		if !m.OK {
			status = "FAILED: " + m.Error
		}
		fmt.Printf("   bin/restore inside a %d MiB memory cgroup: %s in %.3f s, cgroup peak %.1f MB (page cache included), OOM kills %d\n",
			memLimit>>20, status, m.ReadySec, m.MaxMB, m.OOMKills)
	}
}

// printPhases is where one restore binary's time went, from its final line.
func printPhases(r Row) {
	var b strings.Builder
	for _, p := range phases {
		if v, ok := r.Phases[p]; ok {
			fmt.Fprintf(&b, " %s %.3f", p, v)
		} else {
			fmt.Fprintf(&b, " %s -", p)
		}
	}
	name, _ := strings.CutPrefix(r.Method, "ours: ")
	fmt.Printf("   %s, s:%s; peak RSS %.1f MB (anonymous %.1f MB)\n", name, b.String(), r.PeakRSSMB, r.PeakAnonMB)
}

func printSidecar(s *SidecarCase) {
	fmt.Printf("\n== replication (replicate binary, SYNC_INTERVAL=%s)\n", syncInterval)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "writes/s\tachieved\tcommit->replica lag p50 s\tp99\tmax\twrites\tnot found\tL0 files\tlag gauge p50 s\tp99\tmax\tsamples\tagree\t")
	for _, r := range s.Lag {
		fmt.Fprintf(w, "%d\t%.0f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\t%d\t%v\t\n", r.Rate, r.Achieved,
			r.ReplicaP50, r.ReplicaP99, r.ReplicaMax, r.Writes, r.Unreplicated, r.Syncs, r.MetricP50, r.MetricP99, r.MetricMax, r.MetricSamples, r.Agree)
	}
	w.Flush()
	if s.WriteCost.Without == 0 { // -cases lag
		for _, n := range s.Notes {
			fmt.Printf("   note: %s\n", n)
		}
		return
	}
	fmt.Printf("   app write throughput: %.0f/s without sidecar, %.0f/s with (ratio %.2f)\n", s.WriteCost.Without, s.WriteCost.With, s.WriteCost.Ratio)
	fmt.Printf("   replicate RSS: idle %.1f MB, peak under 2,000 w/s %.1f MB; CPU: idle %.1f%%, under 2,000 w/s %.1f%% of one core\n",
		s.IdleRSSMB, s.LoadedRSSMB, s.IdleCPUPct, s.LoadedCPUPct)
	fmt.Printf("   restore no-op start-up (DB present, %.1f MB, quick_check included): median %.0f ms of 10; through %s each way (a remote store): %.0f ms\n",
		float64(s.NoopDBBytes)/1e6, s.NoopStartMs, noopLatency, s.NoopRemoteMs)
	for _, n := range s.Notes {
		fmt.Printf("   note: %s\n", n)
	}
}

func printSeveral(c *SeveralCase) {
	fmt.Printf("\n== several databases in one restore (bin/restore end to end, %s rows), median of %d run(s), load %s\n", c.Kind, c.Runs, c.Load)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "DB_PATH\tdatabases\tDB MB total\tready s\tDB MB/s\tpeak anon RSS MB\t")
	for _, r := range c.Rows {
		fmt.Fprintf(w, "%s\t%d\t%.1f\t%.3f\t%.0f\t%.1f\t\n", r.Name, r.DBs, float64(r.DBBytes)/1e6, r.ReadySec, r.MBps, r.PeakAnonMB)
	}
	w.Flush()
	fmt.Printf("   ready two × 500 MB / one × 1 GB = %.2f (target <= 1.20)\n", c.TimeRatio)
	fmt.Printf("   peak anon RSS three × 300 MB / one × 300 MB = %.2f (one small restore does not fill the shared budget)\n", c.RSSRatio)
	fmt.Printf("   peak anon RSS six × 300 MB / three × 300 MB = %.2f (target ~1: past the shared budget, no growth with the number of databases)\n", c.RSSRatioSix)
	for _, n := range c.Notes {
		fmt.Printf("   note: %s\n", n)
	}
}
