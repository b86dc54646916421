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

	ReplicaLag      prometheus.Gauge
	LastSyncSuccess prometheus.Gauge
	SyncErrors      prometheus.Counter
	RestoreDuration prometheus.Gauge
	RestoreInfo     *prometheus.GaugeVec
	LineageRefused  prometheus.Gauge
	ReplicaLost     prometheus.Counter
}

// NewMetrics creates and registers the series.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		ReplicaLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "replica_lag_seconds"),
			Help: "Age of the oldest local commit not yet in the replica; 0 when caught up.",
		}),
		LastSyncSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "last_sync_success_timestamp_seconds"),
			Help: "Unix time of the last successful sync to the replica.",
		}),
		SyncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prometheus.BuildFQName(namespace, "", "sync_errors_total"),
			Help: "Syncs to the replica that failed.",
		}),
		RestoreDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "restore_duration_seconds"),
			Help: "How long the init container's restore took, from the restore marker.",
		}),
		RestoreInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "restore_info"),
			Help: "1 for the outcome of the init container's restore (restored, present, new), from the restore marker.",
		}, []string{"outcome"}),
		LineageRefused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "lineage_refused"),
			Help: "1 when the lineage guard refused to replicate: the replica holds a backup this database was not restored from.",
		}),
		ReplicaLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prometheus.BuildFQName(namespace, "", "replica_lost_total"),
			Help: "Times the replica was found without the history this sidecar wrote (wiped prefix, store data loss) and a new history was started with a full snapshot.",
		}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        prometheus.BuildFQName(namespace, "", "build_info"),
		Help:        "Build of the running binary; always 1.",
		ConstLabels: prometheus.Labels{"version": version.Version, "commit": version.Commit, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.Registry.MustRegister(m.ReplicaLag, m.LastSyncSuccess, m.SyncErrors,
		m.RestoreDuration, m.RestoreInfo, m.LineageRefused, m.ReplicaLost, buildInfo)
	return m
}

// Observe registers the series that are read from the sidecar's state when
// Prometheus scrapes, so that no code path has to remember to set them and
// a scrape never shows a value older than /status would.
// leaseHeld is nil when the sidecar holds no lease (LEASE=false, a file://
// replica): lease_held is then not served, so that its alert cannot fire
// for a lease nobody should hold.
func (m *Metrics) Observe(ready, leaseHeld, behind func() bool) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "ready"),
			Help: "1 while /readyz answers 200.",
		}, func() float64 { return one(ready()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "behind_replica"),
			Help: "1 while the local database is behind the replica (restored before a writer's last sync, or missing while the replica holds a backup): the sidecar replicates nothing and the app's startup gate stays shut.",
		}, func() float64 { return one(behind()) }),
	)
	if leaseHeld != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: prometheus.BuildFQName(namespace, "", "lease_held"),
			Help: "1 while this process holds the single-writer lease on the replica prefix.",
		}, func() float64 { return one(leaseHeld()) }))
	}
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
