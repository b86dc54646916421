//go:build cluster

package cluster

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestOperatorCRDs runs last (file order): it installs the CRDs of the
// kinds our examples use, as the Prometheus Operator and External Secrets
// publish them (CRD_DIR, from their Go module zips: mk/cluster.mk), and
// has the API server validate every shipped example against them with a
// server-side dry run: the kustomize examples and the Terraform example's
// rendering with monitoring on. A misspelt field in a PodMonitor,
// PrometheusRule or ExternalSecret fails here, as it would on a real cluster
// with the operators.
func TestOperatorCRDs(t *testing.T) {
	requireCluster(t)
	crdDir := os.Getenv("CRD_DIR")
	if crdDir == "" {
		testenv.Required(t, errors.New("CRD_DIR unset: make cluster-test fetches the published CRDs (mk/cluster.mk)"))
	}
	for _, crd := range operatorCRDs {
		// Published as <group>_<plural>.yaml, the CRD's name reversed.
		plural, group, _ := strings.Cut(crd, ".")
		mustKubectl(t, "create", "-f", filepath.Join(crdDir, group+"_"+plural+".yaml"))
	}
	mustKubectl(t, append([]string{"wait", "--for=condition=Established", "--timeout=60s"}, prefixed("crd/", operatorCRDs)...)...)

	for _, c := range []struct {
		example string
		want    []string // objects of the operators' kinds the dry run creates
	}{
		{"overseerr", nil},
		{"sonarr", nil},
		{"overseerr-vault", []string{"externalsecret.external-secrets.io/litestream-credentials", "podmonitor.monitoring.coreos.com/litestream-sidecar", "prometheusrule.monitoring.coreos.com/litestream-sidecar"}},
	} {
		t.Run(c.example, func(t *testing.T) {
			out := dryRun(t, "-k", overlay(c.example))
			for _, w := range c.want {
				if !strings.Contains(out, w+" created (server dry run)") {
					t.Errorf("dry run of %s created no %s", c.example, w)
				}
			}
		})
	}

	t.Run("terraform-example", func(t *testing.T) {
		tofuBin := os.Getenv("TOFU_BIN")
		if tofuBin == "" || os.Getenv("TF_CLI_CONFIG_FILE") == "" {
			testenv.Required(t, errors.New("TOFU_BIN or TF_CLI_CONFIG_FILE unset: make cluster-test sets them (mk/terraform.mk)"))
		}
		// The example as shipped (credentials from Vault), monitoring on:
		// every kind it can render. render_only applies nothing; kubectl
		// then has the API server validate the rendering.
		tf := newTofu(t, tofuBin)
		tf.env = slices.DeleteFunc(tf.env, func(e string) bool { return strings.HasPrefix(e, "TF_VAR_s3_") })
		state := "-state=" + filepath.Join(t.TempDir(), "terraform.tfstate")
		tf.must(t, "init", "-no-color")
		tf.must(t, "apply", "-auto-approve", "-no-color", state, "-var=render_only=true", "-var=monitoring=true")
		var manifests map[string]string
		if err := json.Unmarshal([]byte(tf.must(t, "output", "-no-color", state, "-json", "manifests")), &manifests); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for id, m := range manifests {
			if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(id, "/", "_")+".json"), []byte(m), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := dryRun(t, "-f", dir)
		for _, w := range []string{"externalsecret.external-secrets.io/overseerr-litestream-credentials", "podmonitor.monitoring.coreos.com/overseerr-litestream-sidecar",
			"prometheusrule.monitoring.coreos.com/overseerr-litestream-sidecar", "deployment.apps/overseerr-app"} {
			if !strings.Contains(out, w+" created (server dry run)") {
				t.Errorf("dry run of the Terraform example's rendering created no %s", w)
			}
		}
	})
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}
