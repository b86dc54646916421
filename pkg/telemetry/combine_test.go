package telemetry_test

import (
	"encoding/json"
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
