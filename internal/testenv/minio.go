// Package testenv is the one test harness: it runs the real parts the
// tests, the fault suite, the bench and the demo need (a MinIO server with
// its own data directory, the project's binaries built once per test
// process, processes whose output is read while they write, readiness
// polling, free ports, the sidecar's /status) and holds the test app's one
// row format.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
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
	Endpoint string // http://ADDR
	Addr     string // 127.0.0.1:PORT, or the address given to StartMinIOAt
	DataDir  string
	bin      string
	proc     *Process // nil while stopped
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

// StartMinIO starts MinIO on a free 127.0.0.1 port with a data dir under
// dataDir and waits until it answers its liveness check.
func StartMinIO(dataDir string) (*MinIO, error) {
	addr, err := FindFreeAddr()
	if err != nil {
		return nil, err
	}
	return StartMinIOAt(dataDir, addr)
}

// StartMinIOAt is StartMinIO on a given address, for a test whose clients
// cannot reach 127.0.0.1 (the cluster test's pods reach the node address).
func StartMinIOAt(dataDir, addr string) (*MinIO, error) {
	bin, err := Tool("minio", "MINIO_BIN")
	if err != nil {
		return nil, err
	}
	m := &MinIO{bin: bin, DataDir: dataDir, Addr: addr, Endpoint: "http://" + addr}
	return m, m.Start()
}

// Start (re)starts the server on its address and data dir.
func (m *MinIO) Start() error {
	m.Stop() // a server that exited on its own still holds its Process
	// MinIO creates $HOME/.minio (its config and certs directories) at
	// start, even when told another certs directory. A test run must leave
	// nothing outside the clone and the temp directory, so the server gets a
	// HOME of its own beside its data (the later HOME wins in os/exec).
	env := append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1", "HOME="+m.DataDir+".home")
	p, err := StartProcess(m.bin, env, "server", "--quiet", "--address", m.Addr, m.DataDir)
	if err != nil {
		return fmt.Errorf("testenv: minio: %w", err)
	}
	m.proc = p
	if err := WaitHTTP(m.Endpoint+"/minio/health/live", 30*time.Second, p); err != nil {
		m.Stop()
		return fmt.Errorf("testenv: minio not ready: %w: %s", err, p.Output())
	}
	return nil
}

// Running reports whether the server was started, not stopped since, and
// has not exited.
func (m *MinIO) Running() bool {
	if m.proc == nil {
		return false
	}
	exited, _ := m.proc.Exited()
	return !exited
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s).
func (m *MinIO) Stop() {
	if m.proc == nil {
		return
	}
	m.proc.Terminate(10 * time.Second)
	m.proc = nil
}

// Client returns a minio-go client with the root credentials.
func (m *MinIO) Client() *minio.Client {
	c, err := minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		panic(err) // static, valid arguments
	}
	return c
}

// ClientCutAfterDeletes returns a client whose DELETE requests fail after
// the first n, without retries: a process killed between two deletes, as
// far as the store can tell.
func (m *MinIO) ClientCutAfterDeletes(n int) *minio.Client {
	return m.ClientThrough(&deleteCutter{allow: int32(n)})
}

// ClientThrough returns a client with the root credentials whose requests
// go through rt, without retries.
func (m *MinIO) ClientThrough(rt http.RoundTripper) *minio.Client {
	c, err := minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: "us-east-1",
		Transport: rt, MaxRetries: 1})
	if err != nil {
		panic(err) // static, valid arguments
	}
	return c
}

type deleteCutter struct {
	allow int32
	seen  atomic.Int32
}

func (c *deleteCutter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodDelete && c.seen.Add(1) > c.allow {
		return nil, errors.New("cut: the process was killed here")
	}
	return http.DefaultTransport.RoundTrip(req)
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
