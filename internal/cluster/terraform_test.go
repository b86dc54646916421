//go:build cluster

package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestTerraform applies deploy/terraform/examples/overseerr with OpenTofu to
// the same node (docs/faults.md "Tested on a real node"), with images and
// endpoint overridden only through the example's variables
// (ci/terraform/test-cluster.tfvars), then runs the kustomize path's first
// boot and pod deletion on it: every row kept. A plan afterwards must show no
// changes, and destroy must leave nothing. It runs after TestCluster (file
// order) on the namespace and PV up.sh made, still without the operators'
// CRDs: the example's defaults apply there.
func TestTerraform(t *testing.T) {
	requireCluster(t)
	tofuBin, cliConfig := os.Getenv("TOFU_BIN"), os.Getenv("TF_CLI_CONFIG_FILE")
	if tofuBin == "" || cliConfig == "" {
		testenv.Required(t, errors.New("TOFU_BIN or TF_CLI_CONFIG_FILE unset: make cluster-test sets them (mk/terraform.mk)"))
	}
	leaveKustomize(t)
	// Only now: a sidecar of the kustomize pod still stopping would sync
	// into the fresh MinIO at the same address.
	startMinIO(t)

	tf := newTofu(t, tofuBin)
	start := time.Now()
	tf.must(t, "init", "-no-color")
	requireBare(t)
	out := tf.must(t, "apply", "-auto-approve", "-no-color", tf.vars)
	applied := time.Since(start)
	t.Logf("tofu apply on a cluster without the operators' CRDs:\n%s", out)
	noMonitoring(t, "tofu apply", out)
	destroyed := false
	t.Cleanup(func() {
		if !destroyed { // a failure above must not leave the app to the next run
			_, _ = tf.run(t, "destroy", "-auto-approve", "-no-color", tf.vars)
		}
	})
	checkTerraformPod(t)
	state := tf.must(t, "state", "list")
	for _, r := range []string{`kubectl_manifest.credentials[0]`, `module.overseerr.kubectl_manifest.workloads["apps/Deployment/overseerr/overseerr-app"]`,
		`module.overseerr.kubectl_manifest.objects["_/PersistentVolumeClaim/overseerr/overseerr-config"]`} {
		if !strings.Contains(state, r+"\n") {
			t.Errorf("tofu state holds no %s:\n%s", r, state)
		}
	}

	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"1-first-boot", checkFirstBoot},
		{"2a-delete-pod-while-writing", func(t *testing.T) { replaceWhileWriting(t, deletePod) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}

	// Nothing drifted: neither the pod's replacement nor the API server's
	// defaults make the next plan want a change (exit 2) or fail (1).
	out, err := tf.run(t, "plan", "-detailed-exitcode", "-no-color", tf.vars)
	t.Logf("tofu plan after apply and a pod deletion:\n%s", out)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		t.Errorf("tofu plan wants changes after apply")
	} else if err != nil {
		t.Fatalf("tofu plan: %v", err)
	}

	start = time.Now()
	tf.must(t, "destroy", "-auto-approve", "-no-color", tf.vars)
	destroyed = true
	waitGone(t, 2*time.Minute)
	if state := strings.TrimSpace(tf.must(t, "state", "list")); state != "" {
		t.Errorf("state after destroy still holds:\n%s", state)
	}
	if left := leftovers(t); len(left) > 0 {
		t.Errorf("destroy left behind: %v", left)
	}
	t.Logf("tofu apply (to a Ready pod) %.1fs, destroy %.1fs", applied.Seconds(), time.Since(start).Seconds())
}

// leaveKustomize removes what TestCluster applied with kubectl (not up.sh's
// namespace and PV), waits for its pod to be gone, and frees the PV its
// PVC had bound (Retain keeps it Released, bound to no claim) for the
// example's PVC of the same name.
func leaveKustomize(t *testing.T) {
	t.Helper()
	mustKubectl(t, "delete", "-k", overlay("test-cluster"), "--ignore-not-found", "--wait=true", "--timeout=3m")
	waitGone(t, 3*time.Minute)
	mustKubectl(t, "patch", "pv", "overseerr-config", "--type=json", "-p",
		`[{"op":"replace","path":"/spec/claimRef","value":{"namespace":"overseerr","name":"overseerr-config"}}]`)
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("the kustomize path left %v", left)
	}
}

// leftovers lists the app's objects in the namespace: everything but what
// Kubernetes itself puts in every namespace.
func leftovers(t *testing.T) []string {
	t.Helper()
	out := mustKubectl(t, "-n", namespace, "get", "-o", "name",
		"deployments,replicasets,pods,configmaps,secrets,persistentvolumeclaims")
	var left []string
	for _, n := range strings.Fields(out) {
		if n != "configmap/kube-root-ca.crt" {
			left = append(left, n)
		}
	}
	return left
}

// checkTerraformPod: the running Deployment is the one tofu applied, with
// the images the variables chose (not the kustomize path's objects).
func checkTerraformPod(t *testing.T) {
	t.Helper()
	images := mustKubectl(t, "-n", namespace, "get", "deployment", deployment, "-o",
		`jsonpath={range .spec.template.spec.initContainers[*]}{.image} {end}{range .spec.template.spec.containers[*]}{.image} {end}`)
	want := "localhost/litestream-sidecar:cluster-test localhost/litestream-sidecar:cluster-test localhost/overseerr-standin:cluster-test"
	if strings.TrimSpace(images) != want {
		t.Errorf("deployment's images %q, want %q", images, want)
	}
}

// tofu runs OpenTofu on a copy of deploy/ (the example reaches the module,
// and the module deploy/k8s, by relative paths; nothing lands in the tree).
type tofu struct {
	bin, dir, vars string
	env            []string
}

func newTofu(t *testing.T, bin string) *tofu {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"k8s", "terraform"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(cfg.repo, "deploy", d), filepath.Join(root, d)).CombinedOutput(); err != nil {
			t.Fatalf("copy deploy/%s: %v: %s", d, err, out)
		}
	}
	return &tofu{
		bin:  bin,
		dir:  filepath.Join(root, "terraform", "examples", "overseerr"),
		vars: "-var-file=" + filepath.Join(cfg.repo, "ci", "terraform", "test-cluster.tfvars"),
		// The keys as sensitive variables: secrets.tf makes them a Secret.
		// HOME: OpenTofu creates $HOME/.terraform.d at every start.
		env: []string{"HOME=" + root, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_VAR_kubeconfig_path=" + cfg.kubeconfig,
			"TF_VAR_s3_access_key_id=" + testenv.AccessKey, "TF_VAR_s3_secret_access_key=" + testenv.SecretKey},
	}
}

// run runs tofu, failing the test if its output shows the secret key.
func (tf *tofu) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tf.bin, append([]string{"-chdir=" + tf.dir}, args...)...)
	cmd.Env = append(os.Environ(), tf.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("tofu %s: %.1fs", args[0], time.Since(start).Seconds())
	if strings.Contains(out.String(), testenv.SecretKey) {
		t.Errorf("tofu %s printed the secret access key", args[0])
	}
	if err != nil {
		err = fmt.Errorf("tofu %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), err
}

func (tf *tofu) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tf.run(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}
