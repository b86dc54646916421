package telemetry_test

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// ours is every series of ours once each Observe has run, build_info
// aside: each must follow the db label rule.
var ours = []string{
	"litestream_sidecar_behind_replica",
	"litestream_sidecar_clock_skew_seconds",
	"litestream_sidecar_free_space_bytes",
	"litestream_sidecar_last_sync_success_timestamp_seconds",
	"litestream_sidecar_lease_held",
	"litestream_sidecar_lineage_refused",
	"litestream_sidecar_ready",
	"litestream_sidecar_replica_lag_seconds",
	"litestream_sidecar_replica_lost_total",
	"litestream_sidecar_restore_duration_seconds",
	"litestream_sidecar_restore_info",
	"litestream_sidecar_snapshot_space_needed_bytes",
	"litestream_sidecar_sync_errors_total",
}

// TestDBLabel: with one database our series carry no db label, as before
// several were supported; with several each database's series carry
// db=<file name>, and a value set on one database's series is served
// under its name only. build_info is the process's, never a database's.
func TestDBLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		dbs  []string // nil: NewMetrics, one database
		want []string // the db label values of each of ours; "" for none
	}{
		{"one database: no db label", nil, []string{""}},
		{"several: each its own", []string{"sonarr.db", "logs.db"}, []string{"logs.db", "sonarr.db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reg *prometheus.Registry
			var series []*telemetry.Series
			if tc.dbs == nil {
				m := telemetry.NewMetrics()
				reg, series = m.Registry, []*telemetry.Series{m.Series}
			} else {
				m, s := telemetry.NewMetricsFor(tc.dbs)
				reg, series = m.Registry, s
			}
			yes := func() bool { return true }
			for i, s := range series {
				s.Observe(yes, yes, yes)
				s.ObserveClockSkew(func() float64 { return 0 })
				s.ObserveSpace(func() (float64, float64) { return 1, 1 })
				s.RestoreInfo.WithLabelValues("restored").Set(1)
				s.ReplicaLag.Set(float64(10 + i)) // which database a value belongs to
			}
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string][]string{}
			for _, f := range families {
				for _, m := range f.GetMetric() {
					db := ""
					for _, l := range m.GetLabel() {
						if l.GetName() == "db" {
							db = l.GetValue()
						}
					}
					seen[f.GetName()] = append(seen[f.GetName()], db)
					if f.GetName() == "litestream_sidecar_replica_lag_seconds" {
						i := max(0, slices.Index(tc.dbs, db))
						if got := m.GetGauge().GetValue(); got != float64(10+i) {
							t.Errorf("replica_lag_seconds{db=%q} = %v; want %v, its own database's", db, got, 10+i)
						}
					}
				}
			}
			if got := seen["litestream_sidecar_build_info"]; !slices.Equal(got, []string{""}) {
				t.Errorf("build_info db labels %q; want one series without", got)
			}
			for _, name := range ours {
				got := seen[name]
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: db labels %q; want %q", name, got, tc.want)
				}
			}
			if len(seen) != len(ours)+1 {
				t.Errorf("gathered %d families; want %d: a series of ours is missing from this test", len(seen), len(ours)+1)
			}
		})
	}
}
