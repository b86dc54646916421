//go:build cluster

package cluster

import (
	"strings"
	"testing"
)

// The operators' kinds our manifests may use, by CRD name. The node starts
// without them, as a new user's cluster does: TestBareCluster, TestCluster
// and TestTerraform (in file order) apply the examples that must work there;
// TestOperatorCRDs (withcrds_test.go, last) installs the published CRDs and
// dry-runs the examples that need them.
var operatorCRDs = []string{
	"podmonitors.monitoring.coreos.com",
	"prometheusrules.monitoring.coreos.com",
	"externalsecrets.external-secrets.io",
}

// TestBareCluster: the shipped examples without an operator dependency are
// taken whole by a cluster without the operators' CRDs, the API server
// validating every object (a server-side dry run: the app images are not
// on the node, and the Overseerr pod itself is applied for real by
// TestCluster).
func TestBareCluster(t *testing.T) {
	requireCluster(t)
	requireBare(t)
	for _, name := range []string{"overseerr", "sonarr"} {
		t.Run(name, func(t *testing.T) {
			out := dryRun(t, "-k", overlay(name))
			noMonitoring(t, "kubectl apply -k deploy/k8s/"+name, out)
		})
	}
}

// requireBare fails when an operator's CRD is already installed: the
// bare-cluster tests would prove nothing.
func requireBare(t *testing.T) {
	t.Helper()
	for _, crd := range operatorCRDs {
		if out, _, err := kubectl("get", "crd", crd, "--ignore-not-found", "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
			t.Fatalf("CRD %s present (%q, %v): the node must start without the operators' CRDs", crd, out, err)
		}
	}
}

// dryRun runs `kubectl apply --dry-run=server` (the API server admits and
// validates every object, CRD schemas included, and stores none) and
// returns its output.
func dryRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := kubectl(append([]string{"apply", "--dry-run=server"}, args...)...)
	t.Logf("kubectl apply --dry-run=server %s:\n%s%s", strings.Join(args, " "), stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	// The namespaces enforce and warn restricted PodSecurity: a warning is
	// a pod template the admission would refuse.
	if strings.Contains(stderr, "Warning") {
		t.Errorf("kubectl apply --dry-run=server %s warned:\n%s", strings.Join(args, " "), stderr)
	}
	return stdout + stderr
}

// noMonitoring: an apply's output names no Prometheus Operator kind, so
// nothing in it needed the operator.
func noMonitoring(t *testing.T, what, out string) {
	t.Helper()
	for _, kind := range []string{"podmonitor", "prometheusrule", "monitoring.coreos.com"} {
		if strings.Contains(strings.ToLower(out), kind) {
			t.Errorf("%s mentions %s:\n%s", what, kind, out)
		}
	}
}
