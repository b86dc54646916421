package bucket_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// requestGate holds the first n requests until n of them are in flight at
// once; one that waited for the others in vain is counted.
type requestGate struct {
	n        int
	mu       sync.Mutex
	arrived  int
	open     chan struct{}
	timedOut atomic.Int32
	total    atomic.Int32
}

func (g *requestGate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.total.Add(1)
	g.mu.Lock()
	if g.arrived++; g.arrived == g.n {
		close(g.open)
	}
	first := g.arrived <= g.n
	g.mu.Unlock()
	if first {
		select {
		case <-g.open:
		case <-time.After(10 * time.Second): // only a sequential preflight waits
			g.timedOut.Add(1)
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestPreflightListsAtOnce: the preflight's requests (the bucket, then the
// prefix's levels, v0.3 generations and move object) are in flight
// together, one round trip to the store and not four. Done one after
// another, the gate holds the first three for 10 s each and the test
// fails. What a new history leaves behind (kept histories, the previous
// object) is asked for only when the levels hold no backup: a second
// round, two more requests.
func TestPreflightListsAtOnce(t *testing.T) {
	m := minioWith(t, "pre")
	ctx := context.Background()
	whole := bucket.NewStore(m.Client(), "pre", "p")
	put(t, whole, "p/history/20260101T000000Z/0000/0000000000000001-0000000000000001.ltx", "x")
	put(t, whole, "p/"+ltxstate.HistoryPrevious, `{"to":"p/history/20260101T000000Z"}`)
	for _, tc := range []struct {
		name     string
		ltx      bool
		requests int32
		kept     string
	}{
		{name: "levels hold a backup", ltx: true, requests: 4},
		{name: "levels empty", requests: 6, kept: "s3://pre/p/history/20260101T000000Z"},
	} {
		if tc.ltx {
			put(t, whole, "p/0000/0000000000000001-0000000000000001.ltx", "x")
		} else if err := bucket.RawClient(whole).RemoveObject(ctx, "pre", "p/0000/0000000000000001-0000000000000001.ltx", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		gate := &requestGate{n: 4, open: make(chan struct{})}
		s := bucket.NewStore(m.ClientThrough(gate), "pre", "p")
		c, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if n := gate.timedOut.Load(); n > 0 {
			t.Errorf("%s: %d of the preflight's requests waited for the others in vain: they ran one after another", tc.name, n)
		}
		if n := gate.total.Load(); n != tc.requests {
			t.Errorf("%s: %d requests, want %d", tc.name, n, tc.requests)
		}
		if c.LTX != tc.ltx || c.V3 || c.KeptHistory != tc.kept || c.Previous != tc.kept || c.Moving != "" {
			t.Errorf("%s: Preflight = %+v", tc.name, c)
		}
	}
}

// TestPreflightBadMoveObject: a move object that names no destination is
// the prefix's fault, not the network's: exit 65 at once, not retried as
// an unreachable store until the deadline.
func TestPreflightBadMoveObject(t *testing.T) {
	m := minioWith(t, "pre")
	ctx := context.Background()
	s := bucket.NewStore(m.Client(), "pre", "p")
	put(t, s, "p/"+ltxstate.HistoryMove, "hello")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
	if !errors.Is(err, bucket.ErrBadMove) || sysexit.Code(err) != sysexit.DataErr || ctx.Err() != nil {
		t.Errorf("Preflight = %v (exit %d, deadline %v); want ErrBadMove, exit %d, at once", err, sysexit.Code(err), ctx.Err(), sysexit.DataErr)
	}
}
