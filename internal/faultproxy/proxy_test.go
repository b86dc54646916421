package faultproxy_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/faultproxy"
)

// payload is served by the upstream test server.
var payload = bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB

func upstream(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(payload) }))
	t.Cleanup(srv.Close)
	p, err := faultproxy.Start(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func get(ctx context.Context, addr string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func TestPass(t *testing.T) {
	p := upstream(t)
	b, err := get(context.Background(), p.Addr())
	if err != nil || !bytes.Equal(b, payload) {
		t.Fatalf("pass-through: %d bytes, err %v", len(b), err)
	}
}

// TestBlackhole: the request never gets an answer; only the client's own
// deadline ends it.
func TestBlackhole(t *testing.T) {
	p := upstream(t)
	p.SetMode(faultproxy.Blackhole)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := get(ctx, p.Addr()); err == nil {
		t.Fatal("blackholed request succeeded")
	}
	p.SetMode(faultproxy.Pass)
	if b, err := get(context.Background(), p.Addr()); err != nil || !bytes.Equal(b, payload) {
		t.Fatalf("after blackhole lifted: %d bytes, err %v", len(b), err)
	}
}

// TestReset: a transfer larger than ResetAfter fails; a smaller one would not.
func TestReset(t *testing.T) {
	p := upstream(t)
	p.SetMode(faultproxy.Reset)
	p.SetResetAfter(100 << 10)
	b, err := get(context.Background(), p.Addr())
	if err == nil && bytes.Equal(b, payload) {
		t.Fatal("transfer survived a reset after 100 KiB")
	}
}

// TestLatencyAndBandwidth assert lower bounds only: a slow machine makes
// them longer, never shorter.
func TestLatencyAndBandwidth(t *testing.T) {
	p := upstream(t)
	p.SetLatency(200 * time.Millisecond)
	start := time.Now()
	if _, err := get(context.Background(), p.Addr()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("request with 200 ms latency each way took %s", d)
	}
	p.SetLatency(0)
	p.SetBandwidth(1 << 20) // 1 MiB/s
	start = time.Now()
	b, err := get(context.Background(), p.Addr())
	if err != nil || !bytes.Equal(b, payload) {
		t.Fatalf("capped transfer: %d bytes, err %v", len(b), err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("1 MiB at 1 MiB/s took %s", d)
	}
}
