//go:build cluster

// Package cluster runs deploy/k8s/overseerr on a real one-node Kubernetes
// (docs/faults.md "Tested on a real node"): ci/cluster/up.sh starts the node
// inside a private network namespace, and ci/cluster/run.sh runs this test
// binary inside it, so the API server (127.0.0.1:6443), the pods and the
// MinIO this test starts on the node address are all reachable and nothing
// listens outside. Every assertion reads the cluster's own state: pod status
// through kubectl, container logs, the replica's contents restored by our
// restore binary.
//
// Run it with `make cluster-test`; it needs the variables run.sh sets.
package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// Names the test overlay produces (deploy/k8s/test-cluster).
const (
	namespace  = "overseerr"
	deployment = "overseerr-app"
	podLabel   = "app.kubernetes.io/name=app"
	bucket     = "litestream"
	prefix     = "overseerr"
)

// env is what run.sh passes in; a missing one fails under CI=true.
type env struct {
	kubectl, kubeconfig, ctrAddress string
	minioBin, minioAddr             string
	restoreBin, repo                string
}

var cfg env

func TestMain(m *testing.M) {
	cfg = env{
		kubectl: os.Getenv("KUBECTL"), kubeconfig: os.Getenv("KUBECONFIG"),
		ctrAddress: os.Getenv("CONTAINERD_ADDRESS"),
		minioBin:   os.Getenv("MINIO_BIN"), minioAddr: os.Getenv("MINIO_ADDR"),
		restoreBin: os.Getenv("RESTORE_BIN"),
	}
	cfg.repo, _ = testenv.RepoRoot()
	os.Exit(m.Run())
}

// requireCluster fails (CI=true) or skips when run.sh did not start us.
func requireCluster(t *testing.T) {
	t.Helper()
	for name, v := range map[string]string{"KUBECTL": cfg.kubectl, "KUBECONFIG": cfg.kubeconfig,
		"CONTAINERD_ADDRESS": cfg.ctrAddress, "MINIO_BIN": cfg.minioBin, "MINIO_ADDR": cfg.minioAddr,
		"RESTORE_BIN": cfg.restoreBin} {
		if v == "" {
			testenv.Required(t, fmt.Errorf("%s unset: run the cluster test with `make cluster-test`", name))
		}
	}
	if _, err := exec.Command(cfg.kubectl, "--kubeconfig", cfg.kubeconfig, "get", "--raw", "/readyz").CombinedOutput(); err != nil {
		testenv.Required(t, fmt.Errorf("no cluster answers at %s: %v", cfg.kubeconfig, err))
	}
}

// startMinIO starts the project's MinIO on the node address inside the
// cluster's namespace (pods cannot reach 127.0.0.1, where testenv's
// default one listens). The test stops and starts it for the "MinIO down
// at pod start" scenario.
func startMinIO(t *testing.T) *testenv.MinIO {
	t.Helper()
	m, err := testenv.StartMinIOAt(t.TempDir(), cfg.minioAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.MakeBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	return m
}

// replicaRows restores the replica with our restore binary (--verify
// --output: the bucket is never written) and reads its rows; an error is a
// replica that holds nothing yet or a failed restore.
func replicaRows(t *testing.T) ([]string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "verify.db")
	r := testenv.Exec(t, 2*time.Minute, cfg.restoreBin,
		[]string{"S3_ENDPOINT=http://" + cfg.minioAddr, "AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey},
		"--verify", "--output", out, "--replica-url", "s3://"+bucket+"/"+prefix)
	if r.Code != 0 {
		return nil, fmt.Errorf("restore --verify exit %d: %s", r.Code, r.Output())
	}
	return testenv.Rows(t, out), nil
}
