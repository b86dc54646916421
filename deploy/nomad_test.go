package deploy_test

import (
	"net"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// jobs under deploy/nomad, with the -var overrides a run uses (none: the
// file's defaults), and where each app opens its databases: Overseerr derives
// the path from CONFIG_DIRECTORY, the generic template passes DB_PATH itself,
// Sonarr opens sonarr.db and logs.db in /config, a bind mount of the alloc.
type job struct {
	name, file, app string
	vars            map[string]cty.Value
	appDBs          func(t *testing.T, app *block) []string
}

var jobs = []job{
	{"overseerr", "overseerr.nomad.hcl", "overseerr", nil, func(t *testing.T, app *block) []string {
		e := app.one(t, "env").strings()
		if e["CONFIG_DIRECTORY"] == "" {
			return nil
		}
		return []string{path.Join(e["CONFIG_DIRECTORY"], "db", "db.sqlite3")}
	}},
	{"sqlite-app", "sqlite-app.nomad.hcl", "app", nil, appDBPath},
	{"sqlite-app-two", "sqlite-app.nomad.hcl", "app", map[string]cty.Value{"db_paths": cty.ListVal([]cty.Value{
		cty.StringVal("/alloc/data/app/app.db"), cty.StringVal("/alloc/data/app/logs.db")})}, appDBPath},
	{"sonarr", "sonarr.nomad.hcl", "sonarr", nil, func(t *testing.T, app *block) []string {
		cfg := app.one(t, "config")
		if v, ok := cfg.Attrs["volumes"]; ok {
			for _, vol := range v.AsValueSlice() {
				host, inside, _ := strings.Cut(vol.AsString(), ":")
				if rel, ok := strings.CutPrefix(host, "../alloc/"); ok && inside == "/config" {
					dir := path.Join("/alloc", rel)
					return []string{path.Join(dir, "sonarr.db"), path.Join(dir, "logs.db")}
				}
			}
		}
		return nil
	}},
}

func appDBPath(t *testing.T, app *block) []string {
	if db := app.one(t, "env").strings()["DB_PATH"]; db != "" {
		return dbPaths(db)
	}
	return nil
}

// Nomad clients cap kill_timeout at max_kill_timeout, 30s unless configured.
const nomadMaxKillTimeout = 30 * time.Second

func TestNomadWiring(t *testing.T) {
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			job := parseJobspec(t, j.file, j.vars)
			job.walk(func(b *block) {
				if b.Type == "constraint" || b.Type == "affinity" {
					t.Errorf("%s block %v: the replica holds the data, no node should be required", b.Type, b.Labels)
				}
			})
			groups := job.all("group")
			if len(groups) != 1 {
				t.Fatalf("%d groups, want 1", len(groups))
			}
			g := groups[0]
			if c := g.str("count"); c != "1" {
				t.Errorf("count = %q, want 1 (one writer per replica prefix)", c)
			}
			if g.one(t, "ephemeral_disk") == nil {
				t.Error("no ephemeral_disk: the database needs the group's shared alloc dir")
			}
			if g.one(t, "vault") == nil {
				t.Error("no vault block: the credential templates cannot read Vault")
			}
			restore, replicate, app := g.named("task", "restore"), g.named("task", "replicate"), g.named("task", j.app)
			if restore == nil || replicate == nil || app == nil {
				t.Fatalf("tasks restore/replicate/%s missing", j.app)
			}
			if n := len(g.all("task")); n != 3 {
				t.Errorf("%d tasks, want 3", n)
			}
			checkLifecycle(t, restore, "prestart", "false")
			checkLifecycle(t, replicate, "prestart", "true")
			if app.one(t, "lifecycle") != nil {
				t.Errorf("the app task has a lifecycle block; it must be the main task")
			}
			for _, task := range []*block{restore, replicate} {
				cfg := task.one(t, "config")
				if cfg == nil || path.Base(cfg.str("command")) != task.Labels[0] || !strings.Contains(cfg.str("image"), "litestream-sidecar") {
					t.Errorf("task %s does not run %s from the litestream-sidecar image", task.Labels[0], task.Labels[0])
				}
				checkTemplate(t, task)
			}
			if restore.one(t, "config").str("image") != replicate.one(t, "config").str("image") {
				t.Error("restore and replicate use different images")
			}

			renv, senv := restore.one(t, "env").strings(), replicate.one(t, "env").strings()
			db := renv["DB_PATH"]
			if db == "" || db != senv["DB_PATH"] {
				t.Fatalf("DB_PATH: restore %q, replicate %q", db, senv["DB_PATH"])
			}
			for _, p := range dbPaths(db) {
				if !strings.HasPrefix(p, "/alloc/") {
					t.Errorf("DB_PATH item %s is not under /alloc, the directory every task of the alloc shares", p)
				}
			}
			if got := j.appDBs(t, app); !slices.Equal(got, dbPaths(db)) {
				t.Errorf("the app opens %q, restore and replicate use %q", got, dbPaths(db))
			}
			if renv["REPLICA_URL"] == "" || renv["REPLICA_URL"] != senv["REPLICA_URL"] {
				t.Errorf("REPLICA_URL: restore %q, replicate %q", renv["REPLICA_URL"], senv["REPLICA_URL"])
			}

			shutdown := defaultShutdownTimeout
			if s := senv["SHUTDOWN_TIMEOUT"]; s != "" {
				shutdown = mustDuration(t, s)
			}
			kill := mustDuration(t, replicate.str("kill_timeout"))
			if kill <= shutdown || kill > nomadMaxKillTimeout {
				t.Errorf("replicate kill_timeout %s: want above SHUTDOWN_TIMEOUT %s and within max_kill_timeout %s", kill, shutdown, nomadMaxKillTimeout)
			}
			// A replacement alloc is not always held back until this one is
			// terminal (a lost node's is not; a SIGKILL at kill_timeout leaves
			// the lease for its TTL): restore waits for the lease, and that
			// wait covers the app's and the sidecar's kill_timeout plus the TTL.
			wait := defaultLeaseWait
			if s := renv["RESTORE_LEASE_WAIT"]; s != "" {
				wait = mustDuration(t, s)
			}
			appKill := 5 * time.Second // Nomad's default kill_timeout
			if s := app.str("kill_timeout"); s != "" {
				appKill = mustDuration(t, s)
			}
			if worst := appKill + kill + leaseTTL; wait < worst {
				t.Errorf("RESTORE_LEASE_WAIT %s is below the old alloc's worst stop %s (app and sidecar kill_timeout, lease TTL)", wait, worst)
			}
			checkNomadService(t, g, replicate, senv)
		})
	}
}

func checkLifecycle(t *testing.T, task *block, hook, sidecar string) {
	t.Helper()
	lc := task.one(t, "lifecycle")
	if lc == nil {
		t.Errorf("task %s has no lifecycle block", task.Labels[0])
		return
	}
	got := lc.str("sidecar")
	if got == "" {
		got = "false"
	}
	if lc.str("hook") != hook || got != sidecar {
		t.Errorf("task %s lifecycle hook=%q sidecar=%s, want %s/%s", task.Labels[0], lc.str("hook"), got, hook, sidecar)
	}
}

// checkTemplate: credentials come from Vault into the environment, never as
// literals in the jobspec.
func checkTemplate(t *testing.T, task *block) {
	t.Helper()
	env := task.one(t, "env").strings()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if env[k] != "" {
			t.Errorf("task %s: %s is a literal", task.Labels[0], k)
		}
	}
	for _, tpl := range task.all("template") {
		data := tpl.str("data")
		if tpl.str("env") == "true" && strings.Contains(data, "with secret") &&
			strings.Contains(data, "AWS_ACCESS_KEY_ID=") && strings.Contains(data, "AWS_SECRET_ACCESS_KEY=") &&
			strings.HasPrefix(tpl.str("destination"), "secrets/") {
			return
		}
	}
	t.Errorf("task %s: no env template rendering both AWS credentials from a Vault secret into secrets/", task.Labels[0])
}

func checkNomadService(t *testing.T, g, replicate *block, env map[string]string) {
	t.Helper()
	svc := replicate.one(t, "service")
	if svc == nil {
		t.Fatal("replicate has no service for its metrics port")
	}
	if p := svc.str("provider"); p != "" && p != "consul" {
		t.Errorf("service provider %q, want consul", p)
	}
	want := defaultMetricsPort
	if a := env["METRICS_ADDR"]; a != "" {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		want = p
	}
	label := svc.str("port")
	var to string
	if nw := g.one(t, "network"); nw != nil {
		if p := nw.named("port", label); p != nil {
			to = p.str("to")
		}
	}
	if to != want {
		t.Errorf("service port %q maps to %q in the group network; replicate listens on %s", label, to, want)
	}
	check := svc.one(t, "check")
	if check == nil || check.str("type") != "http" || check.str("path") != "/readyz" {
		t.Error("the service has no HTTP check on /readyz")
	}
	if cfg := replicate.one(t, "config"); !strings.Contains(cfg.Attrs["ports"].GoString(), label) {
		t.Errorf("replicate's docker config does not publish port %q", label)
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}
