package replicate

import (
	"context"
	"io"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// observedClient wraps the replica client to see every upload: Litestream's
// monitor retries failed syncs silently, so the upload itself is the one
// place where success and failure can be counted exactly. It is also the
// single-writer gate: without a valid lease nothing is written or deleted.
type observedClient struct {
	litestream.ReplicaClient
	onWrite func(level int, maxTXID ltx.TXID, err error, at time.Time)
	// allow returns nil when writes may go ahead (nil func: always).
	allow func() error
}

var _ litestream.ReplicaClient = (*observedClient)(nil)

// WriteLTXFile uploads and reports the outcome.
func (c *observedClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, r io.Reader) (*ltx.FileInfo, error) {
	if err := c.gate(); err != nil {
		c.onWrite(level, maxTXID, err, time.Now())
		return nil, err
	}
	info, err := c.ReplicaClient.WriteLTXFile(ctx, level, minTXID, maxTXID, r)
	c.onWrite(level, maxTXID, err, time.Now())
	return info, err
}

// DeleteLTXFiles deletes (compaction, retention) only under the lease.
func (c *observedClient) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	if err := c.gate(); err != nil {
		return err
	}
	return c.ReplicaClient.DeleteLTXFiles(ctx, a)
}

// DeleteAll deletes only under the lease.
func (c *observedClient) DeleteAll(ctx context.Context) error {
	if err := c.gate(); err != nil {
		return err
	}
	return c.ReplicaClient.DeleteAll(ctx)
}

func (c *observedClient) gate() error {
	if c.allow == nil {
		return nil
	}
	return c.allow()
}
