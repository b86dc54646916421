package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestLeaseNeedsConditionalWrites: in front of the real MinIO, a proxy
// makes the store behave like one that ignores If-Match and If-None-Match
// (it performs such PUTs unconditionally). With LEASE=true the sidecar
// must refuse to start (78), naming the store, the probe that got through
// and LEASE=false, without writing a byte of the database; with LEASE=false
// it replicates.
func TestLeaseNeedsConditionalWrites(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	px := unconditionalStore(t, m)
	dbPath := filepath.Join(t.TempDir(), "app.db")
	app := openApp(t, dbPath)
	defer app.Close()
	insertRows(t, app, 1, 20)
	const url = "s3://backups/apps/unconditional"
	env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=" + url, "S3_ENDPOINT=" + px.URL, "SYNC_INTERVAL=200ms",
		"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey}

	s := startSidecar(t, env)
	code := s.exited(t, 60*time.Second)
	line := lastLine(s.Output())
	if code != 78 {
		t.Fatalf("exit %d, want 78: %s", code, s.Output())
	}
	for _, want := range []string{"does not enforce conditional writes", "If-None-Match: * on an existing object was accepted", px.URL, "LEASE=false"} {
		if !strings.Contains(line, want) {
			t.Fatalf("the error line lacks %q: %s", want, line)
		}
	}
	if keys := objects(t, m, "backups", "apps/unconditional/"); len(keys) != 0 {
		t.Fatalf("the refused sidecar left objects in the replica: %v", keys)
	}

	s = startSidecar(t, append(env, "LEASE=false"))
	s.WaitReady(t, 60*time.Second)
	if code := s.Stop(t, 40*time.Second); code != 0 {
		t.Fatalf("LEASE=false on the same store: exit %d: %s", code, s.Output())
	}
}

// unconditionalStore is an HTTP proxy to m that performs every conditional
// PUT (If-Match, If-None-Match) unconditionally, as some S3-compatible
// stores do, and passes everything else through untouched. It cannot
// forward those PUTs without the headers (they are signed), so it makes
// them itself with the test's own client.
func unconditionalStore(t *testing.T, m *testenv.MinIO) *httptest.Server {
	t.Helper()
	return storeProxy(t, m, func(w http.ResponseWriter, r *http.Request, pass http.Handler) {
		if r.Method != http.MethodPut || (r.Header.Get("If-Match") == "" && r.Header.Get("If-None-Match") == "") {
			pass.ServeHTTP(w, r)
			return
		}
		body, err := decodeBody(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		info, err := m.Client().PutObject(r.Context(), bucket, key, bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{ContentType: r.Header.Get("Content-Type")})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("ETag", `"`+info.ETag+`"`)
		w.WriteHeader(http.StatusOK)
	})
}

// storeProxy is an HTTP server in front of m: handle sees every request
// with the handler that forwards it untouched, and answers it itself or
// passes it on.
func storeProxy(t *testing.T, m *testenv.MinIO, handle func(w http.ResponseWriter, r *http.Request, pass http.Handler)) *httptest.Server {
	t.Helper()
	target, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	pass := httputil.NewSingleHostReverseProxy(target)
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handle(w, r, pass) }))
	t.Cleanup(px.Close)
	return px
}

// decodeBody returns a PUT's payload, decoding minio-go's aws-chunked
// streaming signature format (<hex size>;chunk-signature=…\r\n<data>\r\n…).
func decodeBody(r *http.Request) ([]byte, error) {
	if !strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return io.ReadAll(r.Body)
	}
	br := bufio.NewReader(r.Body)
	var out []byte
	for {
		head, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		hexSize, _, _ := strings.Cut(strings.TrimSpace(head), ";")
		n, err := strconv.ParseInt(hexSize, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk header %q: %w", head, err)
		}
		if n == 0 {
			return out, nil
		}
		chunk := make([]byte, n+2) // data and its \r\n
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		out = append(out, chunk[:n]...)
	}
}

// objects lists the keys under prefix.
func objects(t *testing.T, m *testenv.MinIO, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for obj := range m.Client().ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}
