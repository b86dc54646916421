package ltxrestore_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
)

// inflight counts the replica reads open at once, across every client
// that shares it.
type inflight struct {
	now, peak atomic.Int64
}

type countedClient struct {
	litestream.ReplicaClient
	n *inflight
}

func (c countedClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	if err != nil {
		return nil, err
	}
	now := c.n.now.Add(1)
	for p := c.n.peak.Load(); now > p && !c.n.peak.CompareAndSwap(p, now); p = c.n.peak.Load() {
	}
	return &countedBody{ReadCloser: rc, n: c.n}, nil
}

type countedBody struct {
	io.ReadCloser
	n    *inflight
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.n.now.Add(-1) })
	return b.ReadCloser.Close()
}

// TestSharedLimits: two restores running at once under one Limits (as the
// databases of one pod do) never have more requests in flight together
// than it allows, each still writes Litestream's bytes, and every slot and
// byte of memory is returned at the end.
func TestSharedLimits(t *testing.T) {
	var n inflight
	type job struct {
		client   litestream.ReplicaClient
		plan     []*ltx.FileInfo
		want     []byte
		pageSize int
	}
	var jobs []job
	for _, sh := range []int{2, 3} {
		raw := file.NewReplicaClient(t.TempDir())
		src := newSource(t, raw, shapes[sh].pageSize)
		shapes[sh].build(src)
		p := plan(t, raw)
		jobs = append(jobs, job{countedClient{raw, &n}, p, upstream(t, raw, p[len(p)-1].MaxTXID), shapes[sh].pageSize})
	}
	const slots = 2
	lim := ltxrestore.NewLimits(slots, 64<<10) // a budget that keeps some files whole, not all
	opt := ltxrestore.Options{Concurrency: 8, PartSize: 16 << 10, Limits: lim}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	outs := make([]string, len(jobs))
	for i, j := range jobs {
		outs[i] = filepath.Join(t.TempDir(), "out.db")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ltxrestore.Restore(context.Background(), j.client, j.plan, outs[i], opt)
		}()
	}
	wg.Wait()
	for i, j := range jobs {
		if errs[i] != nil {
			t.Fatalf("restore %d: %v", i, errs[i])
		}
		got, err := os.ReadFile(outs[i])
		if err != nil {
			t.Fatal(err)
		}
		sameBytes(t, "shared limits", got, j.want, j.pageSize)
	}
	if p := n.peak.Load(); p > slots || p == 0 {
		t.Fatalf("%d replica reads in flight at the peak; the shared limit is %d", p, slots)
	}
	if req, mem := lim.InUse(); req != 0 || mem != 0 {
		t.Fatalf("after both restores the limits hold %d requests and %d bytes; want none", req, mem)
	}
}
