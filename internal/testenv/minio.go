// Package testenv runs the real parts tests and the demo need: a MinIO
// server on a free 127.0.0.1 port with its own data directory, and the
// project's binaries built once per test process.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Credentials of every test MinIO: recognisable, so tests can assert that
// they appear in no output.
const (
	AccessKey = "sidecartestkey"
	SecretKey = "S3CR3T-sidecar-do-not-print-7f3a"
)

// MinIO is a running MinIO server.
type MinIO struct {
	Endpoint string // http://127.0.0.1:PORT
	Addr     string // 127.0.0.1:PORT
	DataDir  string
	bin      string
	cmd      *exec.Cmd
	logs     *bytes.Buffer
}

// RepoRoot finds the module root by walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Tool finds a tool binary: $<ENV>, then the project's .bin (make tools),
// then PATH.
func Tool(name, envVar string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("testenv: %s not found (run `make tools`, or set %s)", name, envVar)
}

// StartMinIO starts MinIO with a data dir under dataDir and waits until it
// answers its liveness check.
func StartMinIO(dataDir string) (*MinIO, error) {
	bin, err := Tool("minio", "MINIO_BIN")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &MinIO{bin: bin, DataDir: dataDir, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	m.Endpoint = "http://" + m.Addr
	return m, m.Start()
}

// Start (re)starts the server on its address and data dir.
func (m *MinIO) Start() error {
	m.logs = &bytes.Buffer{}
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", m.Addr, m.DataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	cmd.Stdout, cmd.Stderr = m.logs, m.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: start minio: %w", err)
	}
	m.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(m.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.Stop()
	return fmt.Errorf("testenv: minio did not become ready on %s: %s", m.Addr, m.logs.String())
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s).
func (m *MinIO) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

// Client returns a minio-go client with the root credentials.
func (m *MinIO) Client() *minio.Client {
	c, err := minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		panic(err) // static, valid arguments
	}
	return c
}

// MakeBucket creates a bucket.
func (m *MinIO) MakeBucket(ctx context.Context, name string) error {
	return m.Client().MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"})
}

// systemCABundle is Debian's CA bundle; many users export it as
// AWS_CA_BUNDLE, which breaks Litestream's S3 client unless we handle it.
const systemCABundle = "/etc/ssl/certs/ca-certificates.crt"

// Env is the environment that points the binaries at this server. It sets
// AWS_CA_BUNDLE as users do (when the system bundle exists), so every test
// run through it also proves that trap handled.
func (m *MinIO) Env() []string {
	env := []string{"S3_ENDPOINT=" + m.Endpoint, "AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey}
	if _, err := os.Stat(systemCABundle); err == nil {
		env = append(env, "AWS_CA_BUNDLE="+systemCABundle)
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
