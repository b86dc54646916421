package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// ErrStalled classifies a replica call cancelled because its connection
// stopped moving bytes.
var ErrStalled = errors.New("replica call stalled")

// WithStallTimeout guards c so that no call can hang on a connection that
// stopped answering. Litestream's S3 client gives every request 24 hours,
// and its sync loop holds the replica's sync lock while it waits: a peer
// that vanished without a reset (a node power loss, a dropped NAT entry)
// stops replication until the kernel gives up on the connection, about a
// quarter of an hour later. A deadline on the whole call would not do:
// a large snapshot on a slow link legitimately takes minutes. So the guard
// measures progress instead:
//   - uploads: d without the SDK reading the body, and d for the answer
//     after the last byte;
//   - downloads and listings: d inside any one call that waits on the
//     network (the open, each Read, each Next), never the caller's own time;
//   - deletes: 10 × d for the whole call (batches of 1000 keys, no body).
//
// A stalled call fails with ErrStalled; Litestream retries it on its next
// tick, on a fresh connection. d <= 0 returns c unchanged.
func WithStallTimeout(c litestream.ReplicaClient, d time.Duration) litestream.ReplicaClient {
	if d <= 0 {
		return c
	}
	return &stallClient{ReplicaClient: c, d: d}
}

type stallClient struct {
	litestream.ReplicaClient
	d time.Duration
}

// watchdog cancels its context when not kicked for d.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	t      *time.Timer
	d      time.Duration
}

func newWatchdog(parent context.Context, d time.Duration) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, d: d}
	w.t = time.AfterFunc(d, func() { cancel(fmt.Errorf("%w: no progress for %s", ErrStalled, d)) })
	return w
}

func (w *watchdog) kick()  { w.t.Reset(w.d) }
func (w *watchdog) pause() { w.t.Stop() }
func (w *watchdog) done()  { w.t.Stop(); w.cancel(nil) }

// explain names the stall when it is what ended err.
func (w *watchdog) explain(err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(w.ctx); errors.Is(cause, ErrStalled) {
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return err
}

func (c *stallClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, r io.Reader) (*ltx.FileInfo, error) {
	w := newWatchdog(ctx, c.d)
	defer w.done()
	info, err := c.ReplicaClient.WriteLTXFile(w.ctx, level, minTXID, maxTXID, kicking(r, w))
	return info, w.explain(err)
}

func (c *stallClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	w := newWatchdog(ctx, c.d)
	rc, err := c.ReplicaClient.OpenLTXFile(w.ctx, level, minTXID, maxTXID, offset, size)
	if err != nil {
		w.done()
		return nil, w.explain(err)
	}
	w.pause()
	return &guardedBody{rc: rc, w: w}, nil
}

func (c *stallClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	w := newWatchdog(ctx, c.d)
	itr, err := c.ReplicaClient.LTXFiles(w.ctx, level, seek, useMetadata)
	if err != nil {
		w.done()
		return nil, w.explain(err)
	}
	w.pause()
	return &guardedIterator{FileIterator: itr, w: w}, nil
}

func (c *stallClient) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	w := newWatchdog(ctx, 10*c.d)
	defer w.done()
	return w.explain(c.ReplicaClient.DeleteLTXFiles(w.ctx, a))
}

func (c *stallClient) DeleteAll(ctx context.Context) error {
	w := newWatchdog(ctx, 10*c.d)
	defer w.done()
	return w.explain(c.ReplicaClient.DeleteAll(w.ctx))
}

// guardedBody arms the watchdog only while a Read waits on the network.
type guardedBody struct {
	rc io.ReadCloser
	w  *watchdog
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.w.kick()
	n, err := b.rc.Read(p)
	b.w.pause()
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.w.explain(err)
	}
	return n, err
}

func (b *guardedBody) Close() error {
	b.w.done()
	return b.rc.Close()
}

// guardedIterator arms the watchdog only while Next fetches.
type guardedIterator struct {
	ltx.FileIterator
	w *watchdog
}

func (g *guardedIterator) Next() bool {
	g.w.kick()
	defer g.w.pause()
	return g.FileIterator.Next()
}

func (g *guardedIterator) Err() error { return g.w.explain(g.FileIterator.Err()) }

func (g *guardedIterator) Close() error {
	err := g.w.explain(g.FileIterator.Close())
	g.w.done()
	return err
}

// kicking returns r with every Read, Seek and ReadAt kicking w, keeping
// the interfaces the S3 uploader looks for: a seekable body is sent with
// its length and retried in place, and a ReaderAt is split into parts
// without copying.
func kicking(r io.Reader, w *watchdog) io.Reader {
	kr := kickReader{r: r, w: w}
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		return &kr
	}
	krs := kickReadSeeker{kickReader: kr, s: rs}
	if ra, ok := r.(io.ReaderAt); ok {
		return &kickReadSeekerAt{kickReadSeeker: krs, ra: ra}
	}
	return &krs
}

type kickReader struct {
	r io.Reader
	w *watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.w.kick()
	return n, err
}

type kickReadSeeker struct {
	kickReader
	s io.Seeker
}

func (k *kickReadSeeker) Seek(off int64, whence int) (int64, error) {
	k.w.kick()
	return k.s.Seek(off, whence)
}

type kickReadSeekerAt struct {
	kickReadSeeker
	ra io.ReaderAt
}

func (k *kickReadSeekerAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := k.ra.ReadAt(p, off)
	k.w.kick()
	return n, err
}
