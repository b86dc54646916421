package engine_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/s3"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/internal/faultproxy"
	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/engine"
)

// TestStallTimeout runs Litestream's real S3 client against MinIO through
// a proxy that can stop answering. Without the guard each blackholed call
// would wait out the test's two-minute context (Litestream gives requests
// 24 hours); with it every call fails with ErrStalled, and the client works
// again, on fresh connections, once the network does.
func TestStallTimeout(t *testing.T) {
	m := testenv.NewMinIO(t)
	if err := m.MakeBucket(context.Background(), "stall"); err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(m.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)

	env := append(m.Env(), "DB_PATH="+filepath.Join(t.TempDir(), "app.db"), "REPLICA_URL=s3://stall/db", "S3_ENDPOINT=http://"+p.Addr())
	cfg, err := config.Bind(flag.NewFlagSet("test", flag.ContinueOnError), config.Replicate).Load(env, config.Replicate)
	if err != nil {
		t.Fatal(err)
	}
	// Long enough that a loaded machine's loopback MinIO never looks
	// stalled on the healthy calls (500 ms did, at load 8 on 2 cores).
	const d = 2 * time.Second
	c := engine.WithStallTimeout(engine.NewClient(cfg, slog.New(slog.DiscardHandler)), d)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	write := func(tx ltx.TXID) error {
		_, err := c.WriteLTXFile(ctx, 0, tx, tx, bytes.NewReader(testenv.LTXFile(t, tx, tx)))
		return err
	}
	if err := write(1); err != nil {
		t.Fatalf("healthy upload: %v", err)
	}

	// The caller's own pauses do not count: a download read slowly still
	// completes, and a listing consumed slowly still lists.
	rc, err := c.OpenLTXFile(ctx, 0, 1, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * d)
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, testenv.LTXFile(t, 1, 1)) {
		t.Fatalf("slowly read download: %d bytes, %v", len(got), err)
	}

	p.SetMode(faultproxy.Blackhole)
	for name, call := range map[string]func() error{
		"upload": func() error { return write(2) },
		"download": func() error {
			rc, err := c.OpenLTXFile(ctx, 0, 1, 1, 0, 0)
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			return err
		},
		"listing": func() error {
			_, err := litestream.FindLTXFiles(ctx, c, 0, false, func(*ltx.FileInfo) (bool, error) { return true, nil })
			return err
		},
		"delete": func() error { return c.DeleteLTXFiles(ctx, []*ltx.FileInfo{{Level: 0, MinTXID: 1, MaxTXID: 1}}) },
	} {
		if err := call(); !errors.Is(err, engine.ErrStalled) {
			t.Errorf("blackholed %s: got %v, want ErrStalled", name, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("the test's own deadline ended the calls, not the guard")
	}

	p.SetMode(faultproxy.Pass)
	if err := write(2); err != nil {
		t.Fatalf("upload after the network came back: %v", err)
	}
	infos, err := litestream.FindLTXFiles(ctx, c, 0, false, func(*ltx.FileInfo) (bool, error) { return true, nil })
	if err != nil || len(infos) != 2 {
		t.Fatalf("listing after recovery: %d files, %v", len(infos), err)
	}
}

// TestStallTimeoutOff: zero leaves the client as it is.
func TestStallTimeoutOff(t *testing.T) {
	raw := s3.NewReplicaClient()
	if c := engine.WithStallTimeout(raw, 0); c != litestream.ReplicaClient(raw) {
		t.Fatalf("WithStallTimeout(c, 0) = %T, want c itself", c)
	}
}
