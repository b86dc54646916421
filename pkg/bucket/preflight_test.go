package bucket_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// listGate holds the first n listings until n of them are in flight at
// once; a listing that waited for the others in vain is counted.
type listGate struct {
	n        int
	mu       sync.Mutex
	arrived  int
	open     chan struct{}
	timedOut atomic.Int32
}

func (g *listGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.Query().Has("list-type") {
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
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestPreflightListsAtOnce: the preflight's three listings of the prefix
// (its levels, v0.3 generations, kept histories) are in flight together,
// one round trip to the store and not three. Done one after another, the
// gate holds the first two for 10 s each and the test fails.
func TestPreflightListsAtOnce(t *testing.T) {
	m := testenv.NewMinIO(t)
	ctx := context.Background()
	if err := m.MakeBucket(ctx, "pre"); err != nil {
		t.Fatal(err)
	}
	whole := &bucket.Store{Client: m.Client(), Bucket: "pre", Prefix: "p"}
	put(t, whole, "p/0000/0000000000000001-0000000000000001.ltx", "x")
	put(t, whole, "p/history/20260101T000000Z/0000/0000000000000001-0000000000000001.ltx", "x")
	gate := &listGate{n: 3, open: make(chan struct{})}
	s := &bucket.Store{Client: m.ClientThrough(gate), Bucket: "pre", Prefix: "p"}
	c, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if n := gate.timedOut.Load(); n > 0 {
		t.Errorf("%d of the preflight's listings waited for the others in vain: they ran one after another", n)
	}
	if !c.LTX || c.V3 || c.KeptHistory != "s3://pre/p/history/20260101T000000Z" || c.Moving != "" {
		t.Errorf("Preflight = %+v", c)
	}
}
