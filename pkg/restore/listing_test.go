package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// writeLTX puts a one-page LTX file for min..max at level.
func writeLTX(t *testing.T, c litestream.ReplicaClient, level int, min, max ltx.TXID) {
	t.Helper()
	if _, err := c.WriteLTXFile(context.Background(), level, min, max, bytes.NewReader(testenv.LTXFile(t, min, max))); err != nil {
		t.Fatal(err)
	}
}

// gated lets no listing through until every level has asked for one: a
// client that lists the levels one after another never gets past the
// first, and gives up after a while so that the test can fail.
type gated struct {
	litestream.ReplicaClient
	mu      sync.Mutex
	asked   map[int]bool
	all     chan struct{}
	timeout time.Duration
	failAt  int // a level whose listing fails (-1: none)
}

var errListing = errors.New("listing refused")

func (g *gated) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	g.mu.Lock()
	if !g.asked[level] {
		g.asked[level] = true
		if len(g.asked) == litestream.SnapshotLevel+1 {
			close(g.all)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.all:
	case <-time.After(g.timeout):
		return nil, fmt.Errorf("level %d listed while other levels waited: the listings are not concurrent", level)
	}
	if level == g.failAt {
		return nil, errListing
	}
	return g.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
}

// TestListAllLevels: the plan from one concurrent listing of every level
// is the plan Litestream makes listing them itself, for the latest
// position and a TXID target, and a failed listing fails the plan.
func TestListAllLevels(t *testing.T) {
	ctx := context.Background()
	client := file.NewReplicaClient(t.TempDir())
	writeLTX(t, client, litestream.SnapshotLevel, 1, 5)
	writeLTX(t, client, 1, 6, 8)
	writeLTX(t, client, 2, 6, 7)
	for tx := ltx.TXID(6); tx <= 10; tx++ {
		writeLTX(t, client, 0, tx, tx)
	}
	logger := slog.New(slog.DiscardHandler)
	newGate := func(failAt int) *gated {
		return &gated{ReplicaClient: client, asked: map[int]bool{}, all: make(chan struct{}), timeout: 10 * time.Second, failAt: failAt}
	}
	for _, txid := range []ltx.TXID{0, 8} {
		want, err := litestream.CalcRestorePlan(ctx, client, txid, time.Time{}, logger)
		if err != nil {
			t.Fatal(err)
		}
		got, err := litestream.CalcRestorePlan(ctx, listAllLevels(ctx, newGate(-1), false), txid, time.Time{}, logger)
		if err != nil {
			t.Fatalf("target %d: %v", txid, err)
		}
		if fmt.Sprint(describe(got)) != fmt.Sprint(describe(want)) {
			t.Fatalf("target %d: plan %v, Litestream's own listing gives %v", txid, describe(got), describe(want))
		}
	}
	if _, err := litestream.CalcRestorePlan(ctx, listAllLevels(ctx, newGate(3), false), 0, time.Time{}, logger); !errors.Is(err, errListing) {
		t.Fatalf("level 3's listing failed: plan error %v, want %v", err, errListing)
	}
}

func describe(plan []*ltx.FileInfo) []string {
	var s []string
	for _, f := range plan {
		s = append(s, fmt.Sprintf("L%d:%s-%s", f.Level, f.MinTXID, f.MaxTXID))
	}
	return s
}
