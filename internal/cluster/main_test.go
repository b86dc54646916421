//go:build cluster

// Package cluster runs deploy/k8s/overseerr on a real one-node Kubernetes
// (issue 17): ci/cluster/up.sh starts the node inside a private network
// namespace, and ci/cluster/run.sh runs this test binary inside it, so the
// API server (127.0.0.1:6443), the pods and the MinIO this test starts on
// the node address are all reachable and nothing listens outside. Every
// assertion reads the cluster's own state: pod status through kubectl,
// container logs, the replica's contents restored by our restore binary.
//
// Run it with `make cluster-test`; it needs the variables run.sh sets.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
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

// minioServer is the project's MinIO on the node address inside the
// cluster's namespace (testenv's binds 127.0.0.1, which pods cannot reach).
// The test stops and starts it for the "MinIO down at pod start" scenario.
type minioServer struct {
	addr, dir string
	cmd       *exec.Cmd
	logs      bytes.Buffer
}

func startMinIO(t *testing.T) *minioServer {
	t.Helper()
	m := &minioServer{addr: cfg.minioAddr, dir: t.TempDir()}
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.client().MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *minioServer) start() error {
	m.logs.Reset()
	cmd := exec.Command(cfg.minioBin, "server", "--quiet", "--address", m.addr, filepath.Join(m.dir, "data"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+testenv.AccessKey, "MINIO_ROOT_PASSWORD="+testenv.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	cmd.Stdout, cmd.Stderr = &m.logs, &m.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start minio: %w", err)
	}
	m.cmd = cmd
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + m.addr + "/minio/health/live"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	m.stop()
	return fmt.Errorf("minio did not answer on %s: %s", m.addr, m.logs.String())
}

func (m *minioServer) stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

func (m *minioServer) client() *minio.Client {
	c, err := minio.New(m.addr, &minio.Options{Creds: credentials.NewStaticV4(testenv.AccessKey, testenv.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		panic(err) // static, valid arguments
	}
	return c
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
