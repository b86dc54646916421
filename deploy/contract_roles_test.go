package deploy_test

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// role is one container or task as the orchestrator would start it on a
// node: its argv and environment taken from the manifest, with exactly these
// substitutions (nothing else is changed):
//   - the image's /usr/local/bin/<name> becomes <binDir>/<name>;
//   - every path the manifest mounts (K8s volumeMounts; Nomad's /alloc and
//     the task's /local) becomes a directory under the node's temp dir, the
//     same directory wherever the manifest shares the volume (each item of
//     a DB_PATH list);
//   - S3_ENDPOINT becomes the test MinIO's endpoint (the bucket and prefix of
//     REPLICA_URL are kept: the test creates that bucket);
//   - METRICS_ADDR becomes a free 127.0.0.1 port (the manifests bind :9090);
//   - credentials: the K8s Secret volume's files, or the Nomad template's
//     `secret` data, hold the test MinIO's keys.
type role struct {
	name string
	argv []string
	env  map[string]string
}

// layout is the three parts of one deployment, prepared for one node.
type layout struct {
	restore, replicate role
	appDBs             []string      // where the app opens its databases on this node
	startupPath        string        // probe the orchestrator waits on before the app starts
	readyPath          string        // readiness probe / health check
	grace              time.Duration // time the orchestrator gives replicate after SIGTERM
}

// nodeFunc prepares a deployment on a fresh node directory.
type nodeFunc func(t *testing.T, node, binDir string, m *testenv.MinIO) layout

// mapper rewrites absolute in-container paths to node directories.
type mapper map[string]string // in-container prefix -> host dir

func (m mapper) path(p string) string {
	best := ""
	for prefix := range m {
		if (p == prefix || strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/")) && len(prefix) > len(best) {
			best = prefix
		}
	}
	if best == "" {
		return p
	}
	return filepath.Join(m[best], strings.TrimPrefix(p, best))
}

func substitute(t *testing.T, env map[string]string, paths mapper, m *testenv.MinIO) {
	t.Helper()
	for k, v := range env {
		switch {
		case k == "DB_PATH":
			items := dbPaths(v)
			for i := range items {
				items[i] = paths.path(items[i])
			}
			env[k] = strings.Join(items, ",")
		case strings.HasPrefix(v, "/"):
			env[k] = paths.path(v)
		}
	}
	if _, ok := env["S3_ENDPOINT"]; !ok {
		t.Fatal("the manifest sets no S3_ENDPOINT; MinIO needs one")
	}
	env["S3_ENDPOINT"] = m.Endpoint
	env["METRICS_ADDR"] = testenv.FreeAddr(t)
}

func argv(t *testing.T, binDir string, cmd []string) []string {
	t.Helper()
	if len(cmd) == 0 || !strings.HasPrefix(cmd[0], "/usr/local/bin/") {
		t.Fatalf("command %v does not run a binary of the image", cmd)
	}
	return append([]string{filepath.Join(binDir, path.Base(cmd[0]))}, cmd[1:]...)
}

// kubernetesNode lays out the rendered Overseerr Deployment on a node: one
// directory per pod volume, mounted wherever the manifest mounts it.
func kubernetesNode(example string) nodeFunc {
	return func(t *testing.T, node, binDir string, m *testenv.MinIO) layout {
		r := render(t, example)
		spec := &r.Deployment.Spec.Template.Spec
		volumeDir := func(name string) string {
			d := filepath.Join(node, "volumes", name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			return d
		}
		mounts := func(c *corev1.Container) mapper {
			mp := mapper{}
			for _, vm := range c.VolumeMounts {
				mp[vm.MountPath] = volumeDir(vm.Name)
			}
			return mp
		}
		prepare := func(c *corev1.Container) role {
			env := r.env(t, c)
			paths := mounts(c)
			// Secret volumes: write the keys the *_FILE variables point at.
			for name, value := range map[string]string{"AWS_ACCESS_KEY_ID": testenv.AccessKey, "AWS_SECRET_ACCESS_KEY": testenv.SecretKey} {
				if f := env[name+"_FILE"]; f != "" {
					if err := os.WriteFile(paths.path(f), []byte(value+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			substitute(t, env, paths, m)
			return role{name: c.Name, argv: argv(t, binDir, append(c.Command, c.Args...)), env: env}
		}
		restore, replicate := container(t, spec, "restore"), container(t, spec, "replicate")
		app := &spec.Containers[0]
		l := layout{restore: prepare(restore), replicate: prepare(replicate)}
		for _, db := range dbPaths(r.env(t, restore)["DB_PATH"]) {
			l.appDBs = append(l.appDBs, mounts(app).path(db))
		}
		l.startupPath = replicate.StartupProbe.HTTPGet.Path
		l.readyPath = replicate.ReadinessProbe.HTTPGet.Path
		l.grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
		return l
	}
}

// nomadNode lays out a jobspec's group on a node (jobs names it): the alloc
// dir shared by all tasks, a local dir per task, templates rendered into the
// environment.
func nomadNode(name string) nodeFunc {
	return func(t *testing.T, node, binDir string, m *testenv.MinIO) layout {
		i := slices.IndexFunc(jobs, func(j job) bool { return j.name == name })
		if i < 0 {
			t.Fatalf("no Nomad job %q", name)
		}
		j := jobs[i]
		g := parseJobspec(t, j.file, j.vars).all("group")[0]
		alloc := filepath.Join(node, "alloc")
		// What a Nomad client creates in every allocation directory.
		for _, d := range []string{"data", "logs", "tmp"} {
			if err := os.MkdirAll(filepath.Join(alloc, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		paths := func(task string) mapper {
			local := filepath.Join(node, task, "local")
			if err := os.MkdirAll(local, 0o755); err != nil {
				t.Fatal(err)
			}
			return mapper{"/alloc": alloc, "/local": local}
		}
		prepare := func(task *block) role {
			env := task.one(t, "env").strings()
			for _, tpl := range task.all("template") {
				if tpl.str("env") == "true" {
					for k, v := range renderTemplate(t, tpl.str("data")) {
						env[k] = v
					}
				}
			}
			substitute(t, env, paths(task.Labels[0]), m)
			cfg := task.one(t, "config")
			cmd := []string{cfg.str("command")}
			if a, ok := cfg.Attrs["args"]; ok {
				for _, v := range a.AsValueSlice() {
					cmd = append(cmd, v.AsString())
				}
			}
			return role{name: task.Labels[0], argv: argv(t, binDir, cmd), env: env}
		}
		replicate := g.named("task", "replicate")
		l := layout{restore: prepare(g.named("task", "restore")), replicate: prepare(replicate)}
		for _, db := range j.appDBs(t, g.named("task", j.app)) {
			l.appDBs = append(l.appDBs, paths(j.app).path(db))
		}
		check := replicate.one(t, "service").one(t, "check")
		l.startupPath, l.readyPath = "/healthz", check.str("path") // Nomad starts the app once the sidecar task runs
		l.grace = mustDuration(t, replicate.str("kill_timeout"))
		return l
	}
}

// renderTemplate renders a Nomad template's Vault lookups with the test
// MinIO's keys (the same text/template syntax consul-template uses) and
// parses the result as env lines.
func renderTemplate(t *testing.T, data string) map[string]string {
	t.Helper()
	secret := func(string) map[string]any {
		return map[string]any{"Data": map[string]any{"data": map[string]any{
			"access_key_id": testenv.AccessKey, "secret_access_key": testenv.SecretKey}}}
	}
	tpl, err := template.New("nomad").Option("missingkey=error").Funcs(template.FuncMap{"secret": secret}).Parse(data)
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, nil); err != nil {
		t.Fatalf("template: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(buf.String(), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	return env
}
