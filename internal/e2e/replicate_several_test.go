package e2e_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestReplicateSeveral: one sidecar serves two databases (Sonarr's app and
// logs databases), each to REPLICA_URL/<file name>: one HTTP server, a
// status per database, series labelled db; a SIGTERM syncs both, and one
// restore of the list brings both back.
func TestReplicateSeveral(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "sonarr.db"), filepath.Join(dir, "logs.db")
	appA, appB := openApp(t, a), openApp(t, b)
	defer appA.Close()
	defer appB.Close()
	insertRows(t, appA, 1, 100)
	insertRows(t, appB, 1, 30)
	env := append(m.Env(), "DB_PATH="+a+","+b, "REPLICA_URL=s3://backups/apps/sonarr", "SYNC_INTERVAL=200ms")
	s := startSidecar(t, env)
	s.WaitReady(t, 60*time.Second)
	st, _ := s.Status(t)
	if len(st.Databases) != 2 || !st.Ready || !st.Started {
		t.Fatalf("/status %+v, want two ready databases", st)
	}
	for i, want := range []string{"s3://backups/apps/sonarr/sonarr.db", "s3://backups/apps/sonarr/logs.db"} {
		if st.Databases[i].ReplicaURL != want || !st.Databases[i].LeaseHeld {
			t.Fatalf("database %d: %+v, want replica %s and its lease held", i, st.Databases[i], want)
		}
	}
	// REPLICA_URL itself holds no replica: the summary names none, rather
	// than an empty one.
	var top map[string]json.RawMessage
	if _, body := s.Get("/status"); json.Unmarshal([]byte(body), &top) != nil || top["replica_url"] != nil || top["databases"] == nil {
		t.Fatalf("/status %s: want databases and no top-level replica_url", body)
	}
	_, body := s.Get("/metrics")
	for _, want := range []string{`litestream_sidecar_ready{db="sonarr.db"} 1`, `litestream_sidecar_ready{db="logs.db"} 1`, `litestream_sidecar_lease_held{db="logs.db"} 1`} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	insertRows(t, appA, 101, 200)
	insertRows(t, appB, 31, 60)
	wantA, wantB := rows(t, a), rows(t, b)
	if code := s.Stop(t, 60*time.Second); code != 0 {
		t.Fatalf("replicate exit %d: %s", code, s.Output())
	}
	out := t.TempDir()
	ra, rb := filepath.Join(out, "sonarr.db"), filepath.Join(out, "logs.db")
	if r := runRestore(t, append(m.Env(), "DB_PATH="+ra+","+rb, "REPLICA_URL=s3://backups/apps/sonarr")); r.Code != 0 {
		t.Fatalf("restore exit %d: %s", r.Code, r.Stderr)
	}
	if got := rows(t, ra); !slices.Equal(got, wantA) {
		t.Fatalf("sonarr.db: %d rows, want %d", len(got), len(wantA))
	}
	if got := rows(t, rb); !slices.Equal(got, wantB) {
		t.Fatalf("logs.db: %d rows, want %d", len(got), len(wantB))
	}
}

// TestReplicateSeveralOneRefused: the replica of one database holds
// another history (an intruder database where restore did not run). That
// database is refused and named in /readyz; the other keeps replicating,
// and what the app commits to it after the refusal is restorable. A
// SIGTERM syncs it and exits 65 (the refused one).
func TestReplicateSeveralOneRefused(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	other := seedReplica(t, m, "backups", "apps/radarr/logs.db", 1)
	other.stopSidecar(t)

	dir := t.TempDir()
	a, b := filepath.Join(dir, "radarr.db"), filepath.Join(dir, "logs.db")
	appA, appB := openApp(t, a), openApp(t, b)
	defer appA.Close()
	defer appB.Close()
	insertRows(t, appA, 1, 50)
	insertRows(t, appB, 1, 5)
	s := startSidecar(t, append(m.Env(), "DB_PATH="+a+","+b, "REPLICA_URL=s3://backups/apps/radarr", "SYNC_INTERVAL=200ms"))
	st := s.waitFor(t, 60*time.Second, "radarr.db replicating, logs.db refused", func(st telemetry.Status) bool {
		return len(st.Databases) == 2 && st.Databases[0].Ready && st.Databases[1].State == StateFailedName
	})
	if st.Ready || !strings.Contains(st.Reason, "logs.db: ") || !strings.Contains(st.Reason, "lineage conflict") {
		t.Fatalf("/status %+v: want unready, the reason naming logs.db's lineage conflict", st)
	}
	if code, body := s.Get("/readyz"); code != 503 || !strings.Contains(body, "logs.db") {
		t.Fatalf("/readyz %d %s, want 503 naming logs.db", code, body)
	}
	if _, body := s.Get("/metrics"); !strings.Contains(body, `litestream_sidecar_lineage_refused{db="logs.db"} 1`) {
		t.Fatal("/metrics does not say logs.db was refused")
	}
	insertRows(t, appA, 51, 150)
	want := rows(t, a)
	if code := s.Stop(t, 60*time.Second); code != 65 {
		t.Fatalf("replicate exit %d, want 65 (logs.db refused): %s", code, s.Output())
	}
	if got := rows(t, restoreTo(t, m, "s3://backups/apps/radarr/radarr.db")); !slices.Equal(got, want) {
		t.Fatalf("radarr.db restored %d rows, want the %d committed, also after the refusal", len(got), len(want))
	}
	if got := rows(t, restoreTo(t, m, "s3://backups/apps/radarr/logs.db")); !slices.Equal(got, other.points[len(other.points)-1].Rows) {
		t.Fatalf("the refused database's replica changed: %d rows", len(got))
	}
}

// StateFailedName is replicate's state of a database that stopped.
const StateFailedName = "failed"
