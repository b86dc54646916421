package deploy_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// deployments are every manifest the contract runs.
var deployments = []struct {
	name string
	node nodeFunc
}{
	{"kubernetes/overseerr", kubernetesNode("overseerr")},
	{"kubernetes/sonarr", kubernetesNode("sonarr")},
	{"nomad/overseerr", nomadNode("overseerr")},
	{"nomad/sqlite-app", nomadNode("sqlite-app")},
	{"nomad/sqlite-app-two", nomadNode("sqlite-app-two")},
	{"nomad/sonarr", nomadNode("sonarr")},
}

// TestContract runs the built binaries exactly as each manifest starts them,
// in orchestrator order, against a real MinIO: restore on an empty replica,
// then the app (a small writer) beside replicate, stop the app, SIGTERM
// replicate, then restore on a fresh node: every committed row of every
// database is there.
func TestContract(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) { runContract(t, binDir(t), d.node) })
	}
}

// binDir is where the binaries under test are: SIDECAR_BIN_DIR (the image
// check points it at binaries extracted from the image) or a fresh build.
func binDir(t *testing.T) string {
	if d := os.Getenv("SIDECAR_BIN_DIR"); d != "" {
		return d
	}
	return testenv.Binaries(t)
}

func runContract(t *testing.T, bins string, node nodeFunc) {
	m := testenv.NewMinIO(t)
	a := node(t, t.TempDir(), bins, m)
	bucket := replicaBucket(t, a.restore.env["REPLICA_URL"])
	if err := m.MakeBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	var outputs []string
	defer func() {
		for _, o := range outputs {
			if strings.Contains(o, testenv.SecretKey) {
				t.Error("the secret key appears in an output")
			}
		}
	}()

	// 1. restore on an empty replica: proven new, exit 0, nothing installed.
	res := run(t, a.restore, 60*time.Second)
	outputs = append(outputs, res.Output())
	if res.Code != 0 {
		t.Fatalf("restore on an empty replica exited %d: %s", res.Code, res.Stderr)
	}
	for _, p := range a.appDBs {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("restore left something at the app's database path %s (%v)", p, err)
		}
	}

	// 2. replicate starts (native sidecar / prestart sidecar) and passes its
	// startup probe before the app exists; then the app creates its
	// databases, each with its own rows (the database's number in the first).
	s := start(t, a.replicate)
	s.WaitPath(t, a.startupPath, 30*time.Second)
	var dbs []*sql.DB
	for i, p := range a.appDBs {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil { // Overseerr creates its db/ dir
			t.Fatal(err)
		}
		db := openApp(t, p)
		write(t, db, 1+i*1000, 100+i*1000)
		dbs = append(dbs, db)
	}
	s.WaitPath(t, a.readyPath, 60*time.Second)
	checkAlertMetrics(t, s)
	for i, db := range dbs {
		write(t, db, 101+i*1000, 200+i*1000)
	}

	// 3. the app stops first, then replicate gets SIGTERM and must finish its
	// final syncs within the orchestrator's grace.
	for _, db := range dbs {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if code := s.Stop(t, a.grace); code != 0 {
		t.Fatalf("replicate exited %d after SIGTERM: %s", code, s.Output())
	}
	outputs = append(outputs, s.Output())

	// 4. a fresh node: restore brings back every row of every database.
	b := node(t, t.TempDir(), bins, m)
	res = run(t, b.restore, 60*time.Second)
	outputs = append(outputs, res.Output())
	if res.Code != 0 {
		t.Fatalf("restore on a fresh node exited %d: %s", res.Code, res.Stderr)
	}
	for i, p := range b.appDBs {
		got := rows(t, p)
		if len(got) != 200 || got[0] != testenv.RowText(1+i*1000) || got[199] != testenv.RowText(200+i*1000) {
			t.Fatalf("fresh node's %s has %d rows (want 200, %d..%d)", filepath.Base(p), len(got), 1+i*1000, 200+i*1000)
		}
	}
}

func replicaBucket(t *testing.T, replicaURL string) string {
	u, err := url.Parse(replicaURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		t.Fatalf("REPLICA_URL %q is not s3://bucket/prefix", replicaURL)
	}
	return u.Host
}

func run(t *testing.T, r role, timeout time.Duration) testenv.Result {
	t.Helper()
	return testenv.Exec(t, timeout, r.argv[0], envList(r.env), r.argv[1:]...)
}

func envList(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// start starts replicate as the role says (its env sets METRICS_ADDR).
func start(t *testing.T, r role) *testenv.Sidecar {
	t.Helper()
	return testenv.StartSidecar(t, r.argv[0], envList(r.env), r.argv[1:]...)
}

var metricName = regexp.MustCompile(`\blitestream_[a-z0-9_]+\b`)

// Series that exist only after an event the contract does not produce.
var eventOnly = []string{
	"litestream_sidecar_restore_info", // labelled by outcome, from a restore marker
}

// checkAlertMetrics: every metric the PrometheusRule and the Grafana
// dashboard query is served by a running sidecar (a renamed metric would
// silently turn an alert off).
func checkAlertMetrics(t *testing.T, s *testenv.Sidecar) {
	t.Helper()
	code, body := s.Get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	served := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			served[strings.Fields(name)[0]] = true
		}
	}
	used := map[string]string{}
	for _, a := range ruleAlerts(render(t, "overseerr-vault").Rule) {
		for _, n := range metricName.FindAllString(a.expr, -1) {
			used[n] = "alert " + a.name
		}
	}
	dash, err := os.ReadFile(filepath.Join("grafana", "litestream-sidecar.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	for _, panel := range d.Panels {
		for _, tg := range panel.Targets {
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				used[n] = "panel " + panel.Title
			}
		}
	}
	if len(used) < 5 {
		t.Fatalf("found only %d metric names in the rules and dashboard", len(used))
	}
	for n, where := range used {
		if !served[n] && !slices.Contains(eventOnly, n) {
			t.Errorf("%s uses %s, which the sidecar does not serve", where, n)
		}
	}
}

// The app is testenv's (one row format): openApp opens its database, write
// commits rows with their testenv.Body, rows reads them back.
var (
	openApp = testenv.OpenApp
	write   = testenv.InsertRows
	rows    = testenv.Rows
)
