//go:build terraform

package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/litestream-sidecar/litestream-sidecar/deploy"
	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// The Terraform module renders the same kustomize base as the YAML path (it
// has no manifests of its own: docs/deploy.md "Terraform / OpenTofu"), so
// both ways to install deploy the same objects. These tests run the example
// through OpenTofu with render_only (no cluster: the objects are only
// rendered, into the outputs) and compare every object with the kustomize
// overlay that takes the same inputs. Run with `make terraform-test` (build
// tag terraform), which builds tofu and the providers and sets TOFU_BIN and
// TF_CLI_CONFIG_FILE.

// The test MinIO's keys, as deploy/k8s/test-cluster writes them.
const (
	testKeyID  = "sidecartestkey"
	testSecret = "S3CR3T-sidecar-do-not-print-7f3a"
)

func TestTerraformMatchesKustomize(t *testing.T) {
	tf := newTofu(t)
	for _, c := range []struct {
		overlay string
		args    []string
		env     []string
		// The only difference the module has by design: in the module the
		// namePrefix also reaches the components' objects (overseerr-vault
		// adds the components above deploy/k8s/overseerr's prefix, so their
		// names stay unprefixed); the Secret the ExternalSecret creates
		// and the pods the PodMonitor selects are the same.
		rename map[string]string
		// The example's secrets.tf makes this Secret from the variables,
		// outside the module's rendering (it holds the keys).
		without string
	}{
		// Credentials from Vault and monitoring = true: both components.
		{overlay: "overseerr-vault",
			args: []string{"-var=monitoring=true"},
			rename: map[string]string{
				"external-secrets.io/ExternalSecret/overseerr/overseerr-litestream-credentials": "external-secrets.io/ExternalSecret/overseerr/litestream-credentials",
				"monitoring.coreos.com/PodMonitor/overseerr/overseerr-litestream-sidecar":       "monitoring.coreos.com/PodMonitor/overseerr/litestream-sidecar",
				"monitoring.coreos.com/PrometheusRule/overseerr/overseerr-litestream-sidecar":   "monitoring.coreos.com/PrometheusRule/overseerr/litestream-sidecar",
			}},
		// A plain Secret and monitoring left at its default: built-in
		// kinds only, what a cluster without operators takes.
		{overlay: "test-cluster",
			args:    []string{"-var-file=" + filepath.Join(tf.repo, "ci", "terraform", "test-cluster.tfvars")},
			env:     []string{"TF_VAR_s3_access_key_id=" + testKeyID, "TF_VAR_s3_secret_access_key=" + testSecret},
			without: "_/Secret/overseerr/overseerr-litestream-credentials"},
	} {
		t.Run(c.overlay, func(t *testing.T) {
			got := tf.render(t, c.args, c.env)
			for from, to := range c.rename {
				o, ok := got[from]
				if !ok {
					t.Fatalf("module rendered no %s", from)
				}
				delete(got, from)
				o["metadata"].(map[string]any)["name"] = strings.Split(to, "/")[3]
				got[to] = o
			}
			want := kustomizeObjects(t, c.overlay)
			if c.without != "" {
				if _, ok := want[c.without]; !ok {
					t.Fatalf("overlay %s has no %s", c.overlay, c.without)
				}
				delete(want, c.without)
			}
			if _, ok := want["apps/Deployment/overseerr/overseerr-app"]; !ok || len(got) == 0 {
				t.Fatalf("nothing to compare: module %d objects, overlay %v", len(got), keys(want))
			}
			if !reflect.DeepEqual(keys(got), keys(want)) {
				t.Errorf("objects differ:\nmodule:  %v\noverlay: %v", keys(got), keys(want))
			}
			for id, w := range want {
				if g, ok := got[id]; ok && !reflect.DeepEqual(g, w) {
					gj, _ := json.MarshalIndent(g, "", "  ")
					wj, _ := json.MarshalIndent(w, "", "  ")
					t.Errorf("%s differs\nmodule:\n%s\noverlay:\n%s", id, gj, wj)
				}
			}
		})
	}
}

// TestTerraformValidation: the checks that run before anything is applied
// refuse what would lose data later.
func TestTerraformValidation(t *testing.T) {
	tf := newTofu(t)
	for _, c := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"grace-below-shutdown-timeout", map[string]string{"termination_grace_period_seconds": "20", "shutdown_timeout": `"25s"`}, "must exceed shutdown_timeout"},
		{"grace-equal-shutdown-timeout", map[string]string{"termination_grace_period_seconds": "90", "shutdown_timeout": `"1m30s"`}, "must exceed shutdown_timeout"},
		{"replica-url-without-prefix", map[string]string{"replica_url": `"s3://litestream"`}, "with a prefix"},
		{"db-path-outside-data-mount", map[string]string{"db_path": `["/app/config/db/a.db", "/app/other/b.db"]`}, "directly in data_mount_path"},
		{"two-credential-sources", map[string]string{"credentials": `{ secret_name = "s", vault = {} }`}, "exactly one of secret_name and vault"},
		{"monitoring-not-a-bool", map[string]string{"monitoring": `"operator"`}, "a bool is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := tf.planModule(t, c.vars)
			if err == nil {
				t.Fatalf("plan accepted %s:\n%s", c.vars, out)
			}
			// Words only: tofu may wrap a message and box it in │.
			if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(out, "│", " ")), " "), c.want) {
				t.Errorf("plan failed without saying %q:\n%s", c.want, out)
			}
		})
	}
	// The same root with valid inputs plans: the failures above are the inputs'.
	for _, vars := range []map[string]string{
		{"termination_grace_period_seconds": "91", "shutdown_timeout": `"1m30s"`},
		{"monitoring": "true"},
		{"monitoring": "false"},
	} {
		if out, err := tf.planModule(t, vars); err != nil {
			t.Fatalf("valid inputs %v refused: %v\n%s", vars, err, out)
		}
	}
}

// tofu runs OpenTofu on a copy of deploy/ (the module reaches deploy/k8s by a
// relative path; init must not write into the working tree).
type tofu struct {
	bin, repo, dir, kubeconfig string
}

func newTofu(t *testing.T) *tofu {
	t.Helper()
	bin, cliConfig := os.Getenv("TOFU_BIN"), os.Getenv("TF_CLI_CONFIG_FILE")
	if bin == "" || cliConfig == "" {
		testenv.Required(t, fmt.Errorf("TOFU_BIN or TF_CLI_CONFIG_FILE unset: run `make terraform-test`"))
	}
	repo, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tf := &tofu{bin: bin, repo: repo, dir: t.TempDir()}
	for _, d := range []string{"k8s", "terraform"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(repo, "deploy", d), filepath.Join(tf.dir, d)).CombinedOutput(); err != nil {
			t.Fatalf("copy deploy/%s: %v: %s", d, err, out)
		}
	}
	// The providers want a kubeconfig even to render; nothing dials it.
	tf.kubeconfig = filepath.Join(tf.dir, "kubeconfig")
	kc := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
	if err := os.WriteFile(tf.kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return tf
}

// run runs tofu in dir; the output never holds the test keys (they are
// sensitive variables), which fails the test.
func (tf *tofu) run(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tf.bin, append([]string{"-chdir=" + dir}, args...)...)
	// OpenTofu creates $HOME/.terraform.d at every start: a HOME of the
	// test's own keeps the run from leaving it in the user's.
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + tf.dir, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_VAR_kubeconfig_path=" + tf.kubeconfig}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("tofu %s: %.1fs", args[0], time.Since(start).Seconds())
	if strings.Contains(out.String(), testSecret) {
		t.Errorf("tofu %s printed the secret access key", args[0])
	}
	return out.String(), err
}

func (tf *tofu) must(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := tf.run(t, dir, env, args...)
	if err != nil {
		t.Fatalf("tofu %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// render applies the Overseerr example with render_only (nothing reaches
// a cluster) and decodes its manifests output, by the module's ids.
func (tf *tofu) render(t *testing.T, args, env []string) map[string]map[string]any {
	t.Helper()
	ex := filepath.Join(tf.dir, "terraform", "examples", "overseerr")
	state := "-state=" + filepath.Join(t.TempDir(), "terraform.tfstate")
	tf.must(t, ex, env, "init", "-no-color")
	tf.must(t, ex, env, append([]string{"apply", "-auto-approve", "-no-color", state, "-var=render_only=true"}, args...)...)
	var manifests map[string]string
	if err := json.Unmarshal([]byte(tf.must(t, ex, env, "output", "-no-color", state, "-json", "manifests")), &manifests); err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	for id, m := range manifests {
		var o map[string]any
		if err := json.Unmarshal([]byte(m), &o); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		objs[id] = o
	}
	return objs
}

// planModule plans a root calling the module with valid inputs, vars
// (attribute: HCL expression) replacing or adding to them.
func (tf *tofu) planModule(t *testing.T, vars map[string]string) (string, error) {
	t.Helper()
	// Beside the example, with a relative source: tofu copies a module
	// given by an absolute path alone, without the deploy/k8s it renders.
	root, err := os.MkdirTemp(filepath.Join(tf.dir, "terraform", "examples"), "validation-")
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]string{"source": `"../../kubernetes"`, "name": `"v"`, "namespace": `"v"`, "render_only": "true",
		"app_image": `"app:1"`, "db_path": `["/app/config/db/db.sqlite3"]`, "replica_url": `"s3://litestream/v"`,
		"credentials": `{ secret_name = "s" }`}
	maps.Copy(inputs, vars)
	var b strings.Builder
	fmt.Fprintf(&b, "terraform {\n  required_providers {\n    kustomization = { source = \"kbst/kustomization\" }\n    kubectl = { source = \"gavinbunney/kubectl\" }\n  }\n}\n")
	fmt.Fprintf(&b, "provider \"kustomization\" {\n  kubeconfig_path = %q\n}\nprovider \"kubectl\" {\n  config_path = %q\n}\nmodule \"m\" {\n", tf.kubeconfig, tf.kubeconfig)
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		fmt.Fprintf(&b, "  %s = %s\n", k, inputs[k])
	}
	b.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tf.must(t, root, nil, "init", "-no-color")
	return tf.run(t, root, nil, "plan", "-no-color", "-input=false")
}

// kustomizeObjects renders deploy/k8s/<overlay> and keys each object as the
// kustomization provider does: group/Kind/namespace/name, "_" for none.
func kustomizeObjects(t *testing.T, overlay string) map[string]map[string]any {
	t.Helper()
	out, err := deploy.Kustomize(filepath.Join("k8s", overlay))
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var o map[string]any
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatal(err)
		}
		md := o["metadata"].(map[string]any)
		group, _, found := strings.Cut(o["apiVersion"].(string), "/")
		if !found {
			group = "_"
		}
		ns, _ := md["namespace"].(string)
		if ns == "" {
			ns = "_"
		}
		objs[fmt.Sprintf("%s/%s/%s/%s", group, o["kind"], ns, md["name"])] = o
	}
	return objs
}

func keys(m map[string]map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
