//go:build kubectl

package deploy_test

import (
	"os/exec"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/deploy"
)

// TestKubectlAgrees: what the tests check is what `kubectl kustomize` (the
// README's command) renders. The other tests of this package, `make render`
// and the Terraform module's comparison read deploy.Kustomize, our own
// kustomize from go.mod; users apply with the kustomize built into their
// kubectl, and the cluster test applies only its own overlays, checking
// what runs, not what was rendered. A kustomize bump on either side that
// changes the output shows up here. kubectl is not in the registries this
// project reaches, so this needs -tags kubectl; `make cluster-test` runs it
// with the kubectl it builds first on PATH. Without a kubectl it fails
// rather than skips, so a run that asked for it cannot pass unchecked.
func TestKubectlAgrees(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("kubectl not installed (this test runs only with -tags kubectl)")
	}
	for _, e := range examples {
		example := e.name
		want, err := exec.Command("kubectl", "kustomize", "k8s/"+example).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize k8s/%s: %v", example, err)
		}
		got, err := deploy.Kustomize("k8s/" + example)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: deploy.Kustomize and kubectl kustomize differ:\n--- kubectl\n%s\n--- ours\n%s", example, want, got)
		}
	}
}
