package telemetry_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestCombineReplicaURL: several databases have no replica of their own at
// the top of /status (each replicates to REPLICA_URL/<file name>, and
// nothing is restorable from REPLICA_URL itself), so the summary carries no
// replica_url at all rather than an empty one; each database keeps its own.
// One database's status still names its replica.
func TestCombineReplicaURL(t *testing.T) {
	a := telemetry.Status{DBPath: "/config/sonarr.db", ReplicaURL: "s3://backups/sonarr/sonarr.db", State: "replicating", Ready: true, Started: true}
	b := telemetry.Status{DBPath: "/config/logs.db", ReplicaURL: "s3://backups/sonarr/logs.db", State: "replicating", Ready: true, Started: true}
	var top map[string]json.RawMessage
	mustRoundTrip(t, telemetry.Combine([]telemetry.Status{a, b}), &top)
	if v, ok := top["replica_url"]; ok {
		t.Errorf("several databases: top-level replica_url = %s; want none", v)
	}
	var dbs []map[string]any
	if err := json.Unmarshal(top["databases"], &dbs); err != nil {
		t.Fatalf("databases: %v", err)
	}
	if len(dbs) != 2 || dbs[0]["replica_url"] != a.ReplicaURL || dbs[1]["replica_url"] != b.ReplicaURL {
		t.Errorf("databases %v; want each with its own replica_url", dbs)
	}

	var one map[string]any
	mustRoundTrip(t, a, &one)
	if one["replica_url"] != a.ReplicaURL {
		t.Errorf("one database: replica_url = %v; want %s", one["replica_url"], a.ReplicaURL)
	}
}

func mustRoundTrip(t *testing.T, v, into any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestCombine: several databases' statuses summed up for the endpoints:
// ready, started and lease held only when every database is; the reason
// and the wedged reason name each database that is not (its state when
// it gives no reason); the state is the common one or each one's; the lag
// is the largest.
func TestCombine(t *testing.T) {
	ok := func(path string) telemetry.Status {
		return telemetry.Status{DBPath: path, State: "replicating", Ready: true, Started: true, LeaseHeld: true}
	}
	with := func(s telemetry.Status, f func(*telemetry.Status)) telemetry.Status { f(&s); return s }
	a, b := ok("/data/a.db"), ok("/data/b.db")

	for _, tc := range []struct {
		name string
		dbs  []telemetry.Status
		want telemetry.Status // Databases is always dbs, not compared here
	}{
		{"one, ready", []telemetry.Status{a},
			telemetry.Status{DBPath: "/data/a.db", State: "replicating", Ready: true, Started: true, LeaseHeld: true}},
		{"all ready: the common state", []telemetry.Status{a, b},
			telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "replicating", Ready: true, Started: true, LeaseHeld: true}},
		{"one not ready: named with its reason, each state", []telemetry.Status{a, with(b, func(s *telemetry.Status) {
			s.Ready, s.State, s.Reason = false, "failed", "lineage conflict: x"
		})}, telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "a.db: replicating; b.db: failed", Reason: "b.db: lineage conflict: x",
			Started: true, LeaseHeld: true}},
		{"not ready without a reason: its state", []telemetry.Status{with(a, func(s *telemetry.Status) {
			s.Ready, s.State = false, "checking_lineage"
		}), b}, telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "a.db: checking_lineage; b.db: replicating", Reason: "a.db: checking_lineage",
			Started: true, LeaseHeld: true}},
		{"none ready, same state: each named", []telemetry.Status{
			with(a, func(s *telemetry.Status) {
				s.Ready, s.Started, s.State, s.Reason = false, false, "waiting_for_lease", "held by x"
			}),
			with(b, func(s *telemetry.Status) {
				s.Ready, s.Started, s.State, s.Reason = false, false, "waiting_for_lease", "held by y"
			}),
		}, telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "waiting_for_lease", Reason: "a.db: held by x; b.db: held by y", LeaseHeld: true}},
		{"one not started: not started", []telemetry.Status{a, with(b, func(s *telemetry.Status) { s.Started = false })},
			telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "replicating", Ready: true, LeaseHeld: true}},
		{"one without its lease: lease not held", []telemetry.Status{with(a, func(s *telemetry.Status) { s.LeaseHeld = false }), b},
			telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "replicating", Ready: true, Started: true}},
		{"the largest lag", []telemetry.Status{with(a, func(s *telemetry.Status) { s.LagSeconds = 7 }), with(b, func(s *telemetry.Status) { s.LagSeconds = 2 })},
			telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "replicating", Ready: true, Started: true, LeaseHeld: true, LagSeconds: 7}},
		{"wedged: each named", []telemetry.Status{with(a, func(s *telemetry.Status) { s.Wedged = "no progress" }), b},
			telemetry.Status{DBPath: "/data/a.db,/data/b.db", State: "replicating", Ready: true, Started: true, LeaseHeld: true, Wedged: "a.db: no progress"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := telemetry.Combine(tc.dbs)
			if len(got.Databases) != len(tc.dbs) {
				t.Errorf("Databases = %d; want each of the %d", len(got.Databases), len(tc.dbs))
			}
			got.Databases = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Combine:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
