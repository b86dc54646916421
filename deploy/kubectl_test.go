//go:build kubectl

package deploy_test

import (
	"os/exec"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/deploy"
)

// TestKubectlAgrees: what the tests check is what `kubectl kustomize` (the
// README's command) renders. kubectl is not in the registries this project
// reaches, so this runs only when asked: go test -tags kubectl ./deploy.
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
