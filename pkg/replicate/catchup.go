package replicate

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
)

// catchUpEvery is how often the sidecar pushes a sync itself while the
// replica is behind. Litestream backs off exponentially after failed syncs
// (SYNC_INTERVAL doubling up to 5 minutes), so after an outage of a minute
// the library alone could wait minutes more before it retries; the sidecar
// retries every 2 s instead, so catch-up follows the store's recovery.
const catchUpEvery = 2 * time.Second

// catchUp pushes replica syncs, one at a time, off the loop goroutine so
// signals are never delayed by a hanging upload.
type catchUp struct {
	db       *litestream.DB
	timeout  time.Duration
	inflight atomic.Bool
	last     time.Time
}

// maybe starts a sync when the replica has been behind for more than two
// sync intervals and none was pushed in the last catchUpEvery.
func (c *catchUp) maybe(ctx context.Context, behindFor, syncInterval time.Duration, now time.Time) {
	if behindFor <= 2*syncInterval || now.Sub(c.last) < catchUpEvery || !c.inflight.CompareAndSwap(false, true) {
		return
	}
	c.last = now
	go func() {
		defer c.inflight.Store(false)
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		// Errors are counted by observedClient and shown by readiness.
		_ = c.db.Replica.Sync(ctx)
	}()
}
