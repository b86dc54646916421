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
// place where success and failure can be counted exactly.
type observedClient struct {
	litestream.ReplicaClient
	onWrite func(level int, maxTXID ltx.TXID, err error, at time.Time)
}

var _ litestream.ReplicaClient = (*observedClient)(nil)

// WriteLTXFile uploads and reports the outcome.
func (c *observedClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, r io.Reader) (*ltx.FileInfo, error) {
	info, err := c.ReplicaClient.WriteLTXFile(ctx, level, minTXID, maxTXID, r)
	c.onWrite(level, maxTXID, err, time.Now())
	return info, err
}
