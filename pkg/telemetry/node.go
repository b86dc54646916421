package telemetry

import "github.com/prometheus/client_golang/prometheus"

// Series read from the node the sidecar runs on, at each scrape: its clock
// against the object store's, and the free space of a database's
// filesystem (docs/operations.md "Metrics and alerts"). They follow the
// db label rules of the other series.

// ObserveClockSkew serves clock_skew_seconds from skew (the store's clock
// minus ours). Only a sidecar that holds the lease measures it (every
// lease request is a measurement), so only one registers it: without a
// lease there is nothing to compare and no alert to fire.
func (s *Series) ObserveClockSkew(skew func() float64) {
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: prometheus.BuildFQName(namespace, "", "clock_skew_seconds"),
		Help: "The object store's clock minus this node's, from the Date of the lease's requests (positive: this node is behind). " +
			"Beyond the lease's margin the sidecar neither takes nor keeps the single-writer lease.",
		ConstLabels: s.labels,
	}, skew))
}

// ObserveSpace serves the free space of a database's filesystem and what
// Litestream needs there to stage a snapshot of it, from space (both 0
// before the first check): the alert compares the two.
func (s *Series) ObserveSpace(space func() (free, need float64)) {
	opts := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Name: prometheus.BuildFQName(namespace, "", name), Help: help, ConstLabels: s.labels}
	}
	s.reg.MustRegister(
		prometheus.NewGaugeFunc(opts("free_space_bytes",
			"Free space of the filesystem holding the database, for an unprivileged writer."),
			func() float64 { free, _ := space(); return free }),
		prometheus.NewGaugeFunc(opts("snapshot_space_needed_bytes",
			"Free space Litestream needs beside the database to stage a full snapshot of it: the database, its WAL and 1 MiB."),
			func() float64 { _, need := space(); return need }),
	)
}
