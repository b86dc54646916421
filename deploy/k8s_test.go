package deploy_test

import (
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
)

// The sidecar's real endpoints (pkg/telemetry/server.go).
var sidecarPaths = []string{"/metrics", "/healthz", "/readyz", "/startupz", "/status"}

// Defaults from the configuration contract, used when a manifest leaves a
// setting unset.
const (
	defaultMetricsPort     = "9090"
	defaultShutdownTimeout = 25 * time.Second
	defaultLeaseWait       = 90 * time.Second
	leaseTTL               = 30 * time.Second // pkg/lease.TTL
)

// examples are the overlays under deploy/k8s users apply, with the number
// of databases each one's pod serves and whether they include the
// prometheus-operator component (the others must apply to a cluster without
// the operator's CRDs).
var examples = []struct {
	name       string
	dbs        int
	monitoring bool
}{{"overseerr", 1, false}, {"overseerr-vault", 1, true}, {"sonarr", 2, false}}

// dbPaths splits DB_PATH the way both binaries do.
func dbPaths(s string) []string { return (&config.Config{DBPath: s}).DBPaths() }

func TestKubernetesWiring(t *testing.T) {
	for _, example := range examples {
		t.Run(example.name, func(t *testing.T) {
			r := render(t, example.name)
			d := r.Deployment
			if len(r.Namespaces) != 1 {
				t.Errorf("objects land in several namespaces %v: the pod cannot see Secrets or ConfigMaps outside its own", r.Namespaces)
			}
			spec := &d.Spec.Template.Spec
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
				t.Errorf("replicas = %v, want 1 (one writer per replica prefix)", d.Spec.Replicas)
			}
			if d.Spec.Strategy.Type != "Recreate" {
				t.Errorf("strategy = %q, want Recreate (never two writers during a rollout)", d.Spec.Strategy.Type)
			}

			// Order: restore runs to completion, then the native sidecar starts,
			// then the app.
			if len(spec.InitContainers) != 2 || spec.InitContainers[0].Name != "restore" || spec.InitContainers[1].Name != "replicate" {
				t.Fatalf("initContainers = %v, want [restore replicate]", names(spec.InitContainers))
			}
			restore, replicate := &spec.InitContainers[0], &spec.InitContainers[1]
			if restore.RestartPolicy != nil {
				t.Errorf("restore has restartPolicy %v: it must be a plain initContainer that runs to completion", *restore.RestartPolicy)
			}
			if replicate.RestartPolicy == nil || *replicate.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				t.Errorf("replicate restartPolicy = %s, want Always (native sidecar)", policy(replicate.RestartPolicy))
			}
			if got := commandOf(restore); path.Base(got) != "restore" {
				t.Errorf("restore runs %q", got)
			}
			if got := commandOf(replicate); path.Base(got) != "replicate" {
				t.Errorf("replicate runs %q", got)
			}
			if restore.Image != replicate.Image || !strings.Contains(restore.Image, "litestream-sidecar") {
				t.Errorf("images differ or are not ours: restore %q, replicate %q", restore.Image, replicate.Image)
			}
			if len(spec.Containers) != 1 {
				t.Fatalf("containers = %v, want the app alone", names(spec.Containers))
			}
			app := &spec.Containers[0]

			// Same DB_PATH in both, on the same emptyDir, which the app mounts
			// at the same path; with several databases, each of them.
			renv, senv := r.env(t, restore), r.env(t, replicate)
			if renv["DB_PATH"] == "" || renv["DB_PATH"] != senv["DB_PATH"] {
				t.Fatalf("DB_PATH: restore %q, replicate %q; want the same, set", renv["DB_PATH"], senv["DB_PATH"])
			}
			if got := len(dbPaths(renv["DB_PATH"])); got != example.dbs {
				t.Errorf("DB_PATH %q names %d databases, want %d", renv["DB_PATH"], got, example.dbs)
			}
			if renv["REPLICA_URL"] == "" || renv["REPLICA_URL"] != senv["REPLICA_URL"] {
				t.Errorf("REPLICA_URL: restore %q, replicate %q", renv["REPLICA_URL"], senv["REPLICA_URL"])
			}
			var dataVolume string
			for _, db := range dbPaths(renv["DB_PATH"]) {
				for _, c := range []*corev1.Container{restore, replicate, app} {
					m := mountFor(c, db)
					if m == nil {
						t.Fatalf("%s does not mount the directory of DB_PATH %s", c.Name, db)
					}
					if m.MountPath != path.Dir(db) {
						t.Errorf("%s mounts %s at %s; want DB_PATH's directory %s (Litestream's WAL and .db-litestream live beside it)", c.Name, m.Name, m.MountPath, path.Dir(db))
					}
					if m.ReadOnly || m.SubPath != "" {
						t.Errorf("%s mounts the data volume readOnly=%v subPath=%q", c.Name, m.ReadOnly, m.SubPath)
					}
					if dataVolume == "" {
						dataVolume = m.Name
					} else if m.Name != dataVolume {
						t.Errorf("%s mounts volume %q at DB_PATH's directory, restore mounts %q", c.Name, m.Name, dataVolume)
					}
				}
			}
			if v := volume(t, spec, dataVolume); v.EmptyDir == nil {
				t.Errorf("data volume %q is not an emptyDir", dataVolume)
			}

			// Probes hit real endpoints on the port replicate listens on.
			port := defaultMetricsPort
			if a := senv["METRICS_ADDR"]; a != "" {
				_, p, err := net.SplitHostPort(a)
				if err != nil {
					t.Fatalf("METRICS_ADDR %q: %v", a, err)
				}
				port = p
			}
			for name, p := range map[string]*corev1.Probe{"startup": replicate.StartupProbe, "liveness": replicate.LivenessProbe, "readiness": replicate.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("replicate has no HTTP %s probe", name)
					continue
				}
				if !slices.Contains(sidecarPaths, p.HTTPGet.Path) {
					t.Errorf("%s probe path %q is not a sidecar endpoint %v", name, p.HTTPGet.Path, sidecarPaths)
				}
				if got := resolvePort(t, replicate, p.HTTPGet.Port); got != port {
					t.Errorf("%s probe port %s, the sidecar listens on %s", name, got, port)
				}
			}
			// The app starts only after the sidecar's startup probe passes:
			// /startupz, which means the lease is held and the database is the
			// replica's latest (or the replica is proven empty). /healthz would
			// start the app on a copy older than a predecessor's final sync;
			// /readyz would deadlock a first boot (unready until the app
			// creates the database).
			if p := replicate.StartupProbe; p != nil && p.HTTPGet != nil && p.HTTPGet.Path != "/startupz" {
				t.Errorf("startup probe on %s; it must be /startupz", p.HTTPGet.Path)
			}
			if p := replicate.ReadinessProbe; p != nil && p.HTTPGet != nil && p.HTTPGet.Path != "/readyz" {
				t.Errorf("readiness probe on %s; want /readyz", p.HTTPGet.Path)
			}

			// The grace period covers the final sync.
			shutdown := defaultShutdownTimeout
			if s := senv["SHUTDOWN_TIMEOUT"]; s != "" {
				var err error
				if shutdown, err = time.ParseDuration(s); err != nil {
					t.Fatalf("SHUTDOWN_TIMEOUT %q: %v", s, err)
				}
			}
			grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
			if grace <= shutdown {
				t.Errorf("terminationGracePeriodSeconds %s is not above SHUTDOWN_TIMEOUT %s", grace, shutdown)
			}
			// A replacement pod starts while its predecessor may still take the
			// whole grace period to stop, plus the lease TTL if it was killed:
			// restore's wait and the startup probe's budget must cover that
			// (a startup probe that runs out restarts the sidecar).
			worst := grace + leaseTTL
			wait := defaultLeaseWait
			if s := renv["RESTORE_LEASE_WAIT"]; s != "" {
				var err error
				if wait, err = time.ParseDuration(s); err != nil {
					t.Fatalf("RESTORE_LEASE_WAIT %q: %v", s, err)
				}
			}
			if wait < worst {
				t.Errorf("RESTORE_LEASE_WAIT %s is below the predecessor's worst stop (grace %s + lease TTL %s)", wait, grace, leaseTTL)
			}
			if p := replicate.StartupProbe; p != nil {
				if budget := time.Duration(p.FailureThreshold*p.PeriodSeconds) * time.Second; budget < worst {
					t.Errorf("startup probe budget %s (failureThreshold x periodSeconds) is below the predecessor's worst stop %s", budget, worst)
				}
			}

			checkSecurity(t, spec, restore, replicate, app)
			checkCredentials(t, r, spec, restore, replicate)
			checkMonitoring(t, r, replicate, example.monitoring)
		})
	}
}

func checkSecurity(t *testing.T, spec *corev1.PodSpec, restore, replicate, app *corev1.Container) {
	t.Helper()
	pod := spec.SecurityContext
	if pod == nil || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	uid := func(c *corev1.Container) int64 {
		if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
			return *c.SecurityContext.RunAsUser
		}
		if pod != nil && pod.RunAsUser != nil {
			return *pod.RunAsUser
		}
		return -1 // the image's USER
	}
	for _, c := range []*corev1.Container{restore, replicate} {
		sc := c.SecurityContext
		nonRoot := (sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (pod != nil && pod.RunAsNonRoot != nil && *pod.RunAsNonRoot)
		switch {
		case !nonRoot:
			t.Errorf("%s: runAsNonRoot not set", c.Name)
		case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: readOnlyRootFilesystem not set", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: allowPrivilegeEscalation not false", c.Name)
		case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
			t.Errorf("%s: capabilities not dropped", c.Name)
		}
		if uid(c) == 0 {
			t.Errorf("%s runs as uid 0", c.Name)
		}
		// restore's temp directory (--verify, os.MkdirTemp) needs a writable /tmp.
		if m := mountFor(c, "/tmp/x"); m == nil {
			t.Errorf("%s: no writable /tmp under a read-only root filesystem", c.Name)
		}
	}
	// The restored file must be the app's to write; chown needs root.
	if uid(restore) != uid(app) || uid(replicate) != uid(app) {
		t.Errorf("uids differ: restore %d, replicate %d, app %d", uid(restore), uid(replicate), uid(app))
	}
}

// checkCredentials: the *_FILE variables point into a Secret volume whose
// Secret (static, or created by the ExternalSecret) holds those keys.
func checkCredentials(t *testing.T, r *rendered, spec *corev1.PodSpec, cs ...*corev1.Container) {
	t.Helper()
	for _, c := range cs {
		env := r.env(t, c)
		for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			if env[name] != "" {
				t.Errorf("%s: %s is a literal in the manifest", c.Name, name)
			}
			file := env[name+"_FILE"]
			m := mountFor(c, file)
			if file == "" || m == nil {
				t.Errorf("%s: %s_FILE=%q is not on a mounted volume", c.Name, name, file)
				continue
			}
			v := volume(t, spec, m.Name)
			if v.Secret == nil {
				t.Errorf("%s: %s is on volume %q, not a Secret", c.Name, file, m.Name)
				continue
			}
			key := path.Base(file)
			if !slices.Contains(secretKeys(t, r, v.Secret.SecretName), key) {
				t.Errorf("%s: Secret %q provides no key %q", c.Name, v.Secret.SecretName, key)
			}
		}
	}
}

func secretKeys(t *testing.T, r *rendered, name string) []string {
	t.Helper()
	var keys []string
	if s, ok := r.Secrets[name]; ok {
		for k := range s.StringData {
			keys = append(keys, k)
		}
		for k := range s.Data {
			keys = append(keys, k)
		}
	}
	if es := r.ExternalSecret; es != nil && dig(es, "spec", "target", "name") == name {
		for _, d := range dig(es, "spec", "data").([]any) {
			keys = append(keys, d.(map[string]any)["secretKey"].(string))
		}
	}
	if len(keys) == 0 {
		t.Errorf("no Secret or ExternalSecret renders %q", name)
	}
	return keys
}

// checkMonitoring: an example with the prometheus-operator component scrapes
// the sidecar and alerts on it; one without renders neither custom
// resource, so a cluster without the operator takes it.
func checkMonitoring(t *testing.T, r *rendered, replicate *corev1.Container, monitoring bool) {
	t.Helper()
	if !monitoring {
		if r.PodMonitor != nil || r.Rule != nil {
			t.Error("PodMonitor or PrometheusRule rendered: a cluster without the Prometheus Operator refuses them; add them with components/prometheus-operator")
		}
		return
	}
	if r.PodMonitor == nil || r.Rule == nil {
		t.Fatal("PodMonitor or PrometheusRule not rendered")
	}
	labels := r.Deployment.Spec.Template.Labels
	for k, v := range dig(r.PodMonitor, "spec", "selector", "matchLabels").(map[string]any) {
		if labels[k] != v {
			t.Errorf("PodMonitor selects %s=%v; the pod has %q", k, v, labels[k])
		}
	}
	for _, ep := range dig(r.PodMonitor, "spec", "podMetricsEndpoints").([]any) {
		e := ep.(map[string]any)
		if resolvePort(t, replicate, intstr.FromString(e["port"].(string))) == "" || e["path"] != "/metrics" {
			t.Errorf("PodMonitor endpoint %v does not reach replicate's /metrics", e)
		}
	}
	var alerts []string
	for _, a := range ruleAlerts(r.Rule) {
		alerts = append(alerts, a.name)
	}
	for _, want := range []string{"ReplicationLag", "SyncErrors", "LeaseLost", "NotReady"} {
		if !slices.ContainsFunc(alerts, func(a string) bool { return strings.HasSuffix(a, want) }) {
			t.Errorf("no alert for %s among %v", want, alerts)
		}
	}
}

func commandOf(c *corev1.Container) string {
	if len(c.Command) == 0 {
		return ""
	}
	return c.Command[0]
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// resolvePort turns a probe's port (number or name) into the container port.
func resolvePort(t *testing.T, c *corev1.Container, p intstr.IntOrString) string {
	t.Helper()
	if p.Type == intstr.Int {
		return strconv.Itoa(int(p.IntVal))
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return strconv.Itoa(int(cp.ContainerPort))
		}
	}
	t.Errorf("%s has no port named %q", c.Name, p.StrVal)
	return ""
}

// dig walks nested maps; a missing key yields nil.
func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

type alert struct{ name, expr string }

func ruleAlerts(rule map[string]any) []alert {
	var out []alert
	groups, _ := dig(rule, "spec", "groups").([]any)
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			rm := r.(map[string]any)
			name, _ := rm["alert"].(string)
			expr, _ := rm["expr"].(string)
			out = append(out, alert{name, expr})
		}
	}
	return out
}

func policy(p *corev1.ContainerRestartPolicy) string {
	if p == nil {
		return "unset"
	}
	return string(*p)
}
