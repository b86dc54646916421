package telemetry

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/version"
)

const namespace = "litestream_sidecar"

// Metrics are the sidecar's own series (docs/operations.md "Metrics and
// alerts"), on a registry of our own. Litestream registers its series on
// the default registry at import; the HTTP server gathers both.
type Metrics struct {
	Registry *prometheus.Registry
	// Series are the series of the one database, when there is one
	// (NewMetrics); with several each has its own (NewMetricsFor).
	*Series
}

// Series are one database's series. With several databases each set
// carries a constant label db (the file name: cardinality is bounded by
// the configuration); with one there is no such label, as before.
type Series struct {
	reg    *prometheus.Registry
	labels prometheus.Labels

	ReplicaLag      prometheus.Gauge
	LastSyncSuccess prometheus.Gauge
	SyncErrors      prometheus.Counter
	RestoreDuration prometheus.Gauge
	RestoreInfo     *prometheus.GaugeVec
	LineageRefused  prometheus.Gauge
	ReplicaLost     prometheus.Counter
}

// NewMetrics creates and registers the series of one database.
func NewMetrics() *Metrics {
	reg := newRegistry()
	return &Metrics{Registry: reg, Series: newSeries(reg, nil)}
}

// NewMetricsFor creates and registers a set of series per database, each
// labelled db=<name>.
func NewMetricsFor(dbs []string) (*Metrics, []*Series) {
	reg := newRegistry()
	out := make([]*Series, len(dbs))
	for i, db := range dbs {
		out[i] = newSeries(reg, prometheus.Labels{"db": db})
	}
	return &Metrics{Registry: reg}, out
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        prometheus.BuildFQName(namespace, "", "build_info"),
		Help:        "Build of the running binary; always 1.",
		ConstLabels: prometheus.Labels{"version": version.Version, "commit": version.Commit, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)
	return reg
}

func newSeries(reg *prometheus.Registry, labels prometheus.Labels) *Series {
	opts := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Name: prometheus.BuildFQName(namespace, "", name), Help: help, ConstLabels: labels}
	}
	s := &Series{
		reg:             reg,
		labels:          labels,
		ReplicaLag:      prometheus.NewGauge(opts("replica_lag_seconds", "Age of the oldest local commit not yet in the replica; 0 when caught up.")),
		LastSyncSuccess: prometheus.NewGauge(opts("last_sync_success_timestamp_seconds", "Unix time of the last successful sync to the replica.")),
		SyncErrors:      prometheus.NewCounter(prometheus.CounterOpts(opts("sync_errors_total", "Syncs to the replica that failed."))),
		RestoreDuration: prometheus.NewGauge(opts("restore_duration_seconds", "How long the init container's restore took, from the restore marker.")),
		RestoreInfo: prometheus.NewGaugeVec(opts("restore_info",
			"1 for the outcome of the init container's restore (restored, present, new), from the restore marker."), []string{"outcome"}),
		LineageRefused: prometheus.NewGauge(opts("lineage_refused",
			"1 when the lineage guard refused to replicate: the replica holds a backup this database was not restored from.")),
		ReplicaLost: prometheus.NewCounter(prometheus.CounterOpts(opts("replica_lost_total",
			"Times the replica was found without the history this sidecar wrote (wiped prefix, store data loss) and a new history was started with a full snapshot."))),
	}
	reg.MustRegister(s.ReplicaLag, s.LastSyncSuccess, s.SyncErrors, s.RestoreDuration, s.RestoreInfo, s.LineageRefused, s.ReplicaLost)
	return s
}

// Observe registers the series that are read from the sidecar's state when
// Prometheus scrapes, so that no code path has to remember to set them and
// a scrape never shows a value older than /status would.
// leaseHeld is nil when the sidecar holds no lease (LEASE=false, a file://
// replica): lease_held is then not served, so that its alert cannot fire
// for a lease nobody should hold.
func (s *Series) Observe(ready, leaseHeld, behind func() bool) {
	opts := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Name: prometheus.BuildFQName(namespace, "", name), Help: help, ConstLabels: s.labels}
	}
	s.reg.MustRegister(
		prometheus.NewGaugeFunc(opts("ready", "1 while /readyz answers 200."), func() float64 { return one(ready()) }),
		prometheus.NewGaugeFunc(opts("behind_replica",
			"1 while the local database is behind the replica (restored before a writer's last sync, or missing while the replica holds a backup): the sidecar replicates nothing and the app's startup gate stays shut."),
			func() float64 { return one(behind()) }),
	)
	if leaseHeld != nil {
		s.reg.MustRegister(prometheus.NewGaugeFunc(opts("lease_held",
			"1 while this process holds the single-writer lease on the replica prefix."), func() float64 { return one(leaseHeld()) }))
	}
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
