package telemetry_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestEndpoints: what each endpoint answers for each status
// (docs/design.md "Endpoints"), asked through the mux the server serves.
// /healthz is alive unless wedged; /startupz and /readyz are 503 with a
// reason (the state when there is none) until started and ready; nothing
// but the listed endpoints is served, and only to GET.
func TestEndpoints(t *testing.T) {
	replicating := telemetry.Status{State: "replicating", DBPath: "/data/app.db", Ready: true, Started: true}
	waiting := telemetry.Status{State: "waiting_for_lease", Reason: "waiting for the single-writer lease: held by other:1"}
	wedged := replicating
	wedged.Wedged = "no replication progress for 6m0s while behind"
	noReason := telemetry.Status{State: "checking_lineage"}

	for _, tc := range []struct {
		name     string
		method   string
		path     string
		status   telemetry.Status
		wantCode int
		wantBody map[string]any // fields the JSON body must hold; nil: not checked
	}{
		{"alive", "GET", "/healthz", replicating, 200, map[string]any{"status": "alive"}},
		{"alive while not ready", "GET", "/healthz", waiting, 200, map[string]any{"status": "alive"}},
		{"wedged", "GET", "/healthz", wedged, 503, map[string]any{"status": "wedged", "reason": wedged.Wedged}},
		{"started", "GET", "/startupz", replicating, 200, map[string]any{"started": true, "state": "replicating"}},
		{"not started, its reason", "GET", "/startupz", waiting, 503, map[string]any{"started": false, "state": waiting.State, "reason": waiting.Reason}},
		{"not started, no reason: the state", "GET", "/startupz", noReason, 503, map[string]any{"started": false, "reason": "checking_lineage"}},
		{"ready", "GET", "/readyz", replicating, 200, map[string]any{"ready": true, "reason": "", "state": "replicating"}},
		{"not ready", "GET", "/readyz", waiting, 503, map[string]any{"ready": false, "reason": waiting.Reason, "state": waiting.State}},
		{"started but not ready", "GET", "/readyz", telemetry.Status{State: "replicating", Started: true, Reason: "first sync to the replica not done yet"}, 503,
			map[string]any{"ready": false, "reason": "first sync to the replica not done yet"}},
		{"status when ready", "GET", "/status", replicating, 200, map[string]any{"ready": true, "state": "replicating", "db_path": "/data/app.db", "started": true}},
		{"status when not ready is still 200", "GET", "/status", waiting, 200, map[string]any{"ready": false, "reason": waiting.Reason}},
		{"metrics", "GET", "/metrics", replicating, 200, nil},
		{"readyz is GET only", "POST", "/readyz", replicating, 405, nil},
		{"no pprof", "GET", "/debug/pprof/", replicating, 404, nil},
		{"no root", "GET", "/", replicating, 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status := tc.status
			mux := telemetry.Mux(telemetry.NewMetrics(), func() telemetry.Status { return status }, slog.New(slog.NewTextHandler(io.Discard, nil)))
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("%s %s = %d; want %d: %s", tc.method, tc.path, rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantBody == nil {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			for k, want := range tc.wantBody {
				if v, ok := got[k]; !ok || !reflect.DeepEqual(v, want) {
					t.Errorf("%s: %q = %#v; want %#v (body %s)", tc.path, k, v, want, rec.Body)
				}
			}
		})
	}
}

// TestMetricsEndpoint: /metrics serves our own registry (the build info)
// and the default one, where Litestream registers its series (the Go
// runtime's stand in for them here).
func TestMetricsEndpoint(t *testing.T) {
	m := telemetry.NewMetrics()
	m.SyncErrors.Add(3)
	mux := telemetry.Mux(m, func() telemetry.Status { return telemetry.Status{} }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics = %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{"litestream_sidecar_build_info{", "litestream_sidecar_sync_errors_total 3", "go_goroutines "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
