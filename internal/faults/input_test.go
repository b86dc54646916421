//go:build faults

package faults_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// clean reports why out is not a clean failure message: a panic, a stack
// trace, or more than one error line.
func clean(out string) error {
	for _, bad := range []string{"panic:", "goroutine ", "runtime error"} {
		if strings.Contains(out, bad) {
			return fmt.Errorf("output has %q", bad)
		}
	}
	if n := strings.Count(out, "error (exit"); n != 1 {
		return fmt.Errorf("%d error lines, want 1", n)
	}
	return nil
}

// TestBadObjects: garbage, truncated and oversized objects in place of the
// replica's snapshot: exit 65 and nothing at DB_PATH.
func TestBadObjects(t *testing.T) {
	e := newEnv(t, "input/objects")
	e.seed(2000)
	ctx := context.Background()
	c := e.m.Client()
	// The largest object is the one holding the database image: the
	// first file of every restore plan.
	var snapshot string
	var size int64
	for obj := range c.ListObjects(ctx, "faults", minio.ListObjectsOptions{Prefix: "input/objects/", Recursive: true}) {
		if obj.Size > size {
			snapshot, size = obj.Key, obj.Size
		}
	}
	if snapshot == "" {
		t.Fatal("no object in the replica")
	}
	orig, err := c.GetObject(ctx, "faults", snapshot, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := good.ReadFrom(orig); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<20)
	rand.Read(big)
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	for _, v := range []struct {
		name string
		data []byte
	}{
		{"input: largest LTX object replaced by 4 KiB of garbage", garbage},
		{"input: largest LTX object truncated to half", good.Bytes()[:good.Len()/2]},
		{"input: largest LTX object replaced by 64 MiB of garbage", big},
		{"input: largest LTX object with one byte flipped mid-file", flip(good.Bytes())},
	} {
		if _, err := c.PutObject(ctx, "faults", snapshot, bytes.NewReader(v.data), int64(len(v.data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		failures := 0
		runs := iterations(2, 2)
		for i := range runs {
			out := filepath.Join(t.TempDir(), "app.db")
			r := e.restore(out, e.m.Endpoint, 3*time.Minute)
			if r.Code != 65 || exists(out) {
				failures++
				t.Errorf("%s run %d: exit %d (want 65), file left: %v: %s", v.name, i, r.Code, exists(out), r.Stderr)
			} else if err := clean(r.Stderr); err != nil {
				failures++
				t.Errorf("%s run %d: %v: %s", v.name, i, err, r.Stderr)
			}
		}
		record(v.name, runs, failures, "exit 65, nothing at DB_PATH")
	}
	e.noSecret()
}

func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)/2] ^= 0xff
	return c
}

// TestBadLocalInput: a non-SQLite file at DB_PATH, and huge variable
// values: documented exit codes and one clean line, never a panic.
func TestBadLocalInput(t *testing.T) {
	e := newEnv(t, "input/local")
	bin := e.bin
	junk := filepath.Join(t.TempDir(), "app.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(junk)
	failures := 0
	r := e.restore(junk, e.m.Endpoint, time.Minute)
	after, _ := os.ReadFile(junk)
	if r.Code != 65 || !bytes.Equal(before, after) {
		failures++
		t.Errorf("restore on a non-SQLite DB_PATH: exit %d (want 65), file changed: %v: %s", r.Code, !bytes.Equal(before, after), r.Stderr)
	} else if err := clean(r.Stderr); err != nil {
		failures++
		t.Error(err)
	}
	sc, _ := e.startSidecar(e.m.Endpoint, "DB_PATH="+junk)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if ok, _ := sc.Exited(); ok {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ok, code := sc.Exited()
	if !ok || code == 0 {
		failures++
		t.Errorf("replicate on a non-SQLite DB_PATH: exited %v with %d: %s", ok, code, sc.Output())
	} else if err := clean(sc.Output()); err != nil {
		failures++
		t.Errorf("replicate on a non-SQLite DB_PATH: %v: %s", err, sc.Output())
	}
	record("input: non-SQLite file at DB_PATH (restore, replicate)", 2, failures, fmt.Sprintf("restore exit %d, replicate exit %d", r.Code, code))

	failures = 0
	// 100 KiB: the kernel refuses a single environment string over 128 KiB.
	huge := strings.Repeat("x", 100<<10)
	vars := []string{"DB_PATH", "REPLICA_URL", "S3_ENDPOINT", "RESTORE_OWNER", "SYNC_INTERVAL", "METRICS_ADDR", "AWS_SECRET_ACCESS_KEY_FILE"}
	for _, name := range vars {
		for _, b := range []string{"restore", "replicate"} {
			env := append(e.vars(e.m.Endpoint), name+"=/"+huge)
			res := testenv.Exec(t, time.Minute, filepath.Join(bin, b), env)
			e.saw(res.Output())
			if res.Code != 64 || len(res.Stderr) > 4096 || clean(res.Stderr) != nil {
				failures++
				t.Errorf("%s with a 100 KiB %s: exit %d, %d bytes of stderr (want 64, a short line)", b, name, res.Code, len(res.Stderr))
			}
		}
	}
	record("input: 100 KiB variable values", 2*len(vars), failures, "exit 64, one short line")
	e.noSecret()
}
