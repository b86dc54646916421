package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// errNoFastPath marks a restore that pkg/ltxrestore does not take (v0.3
// backups): Litestream's path runs directly.
var errNoFastPath = errors.New("no parallel restore path")

// fastRestore applies the plan with pkg/ltxrestore: parallel ranged
// downloads decoded straight into place, the final checksum verified. It is
// the fast path; Litestream's single-stream Replica.Restore is the fallback
// (measured in make bench).
func fastRestore(ctx context.Context, client litestream.ReplicaClient, plan []*ltx.FileInfo, out string, lim *ltxrestore.Limits, logger *slog.Logger) error {
	st, err := ltxrestore.Restore(ctx, client, plan, out, ltxrestore.Options{Limits: lim})
	if err != nil {
		return err
	}
	logger.Debug("parallel restore", "files", st.Files, "requests", st.Requests, "pages", st.PagesWritten, "duration", st.Total.String())
	return nil
}

// progressEvery is how often a running restore logs its progress.
const progressEvery = 2 * time.Second

// fetched is what fetch produced at a temp path.
type fetched struct {
	TXID       ltx.TXID
	L0Checksum ltx.Checksum // file checksum of the replica's L0 file ending at TXID; 0 when none
	L0File     string       // that file's name; "" when none
	Time       time.Time
	Downloaded int64 // bytes read from the replica
	Size       int64 // bytes of the restored database
	Download   time.Duration
	Fsync      time.Duration // beside Check: they overlap
	Check      time.Duration
	Marker     time.Duration // reading the L0 checksum the marker records
}

// fetch restores src at target into out (which must not exist), then runs
// the integrity check; durable fsyncs out beside the check (the check is
// CPU, the fsync disk), for a caller that installs it. On error out may
// hold a partial file: the caller removes it.
func fetch(ctx context.Context, src *source, target Target, out, mode string, durable bool, logger *slog.Logger) (f fetched, err error) {
	start := time.Now()
	counter := &countingClient{ReplicaClient: src.client}
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = out
	client := src.client
	if src.contents.LTX {
		// Pin the plan's position so the marker names exactly what was
		// restored, and count bytes for the progress lines. v0.3 backups
		// go through the plain client: only it implements ReplicaClientV3.
		opt.TXID = src.txid
		client = counter
		f.TXID = src.txid
	} else {
		opt.Timestamp = target.Timestamp
	}
	r := litestream.NewReplicaWithClient(nil, client)
	var when <-chan timeRead
	if src.contents.LTX {
		when = readTXIDTime(ctx, src) // a small read, beside the download
	}

	stop := func() {}
	if src.contents.LTX {
		stop = reportProgress(logger, counter, src.size, start)
	}
	err = errNoFastPath
	if src.contents.LTX {
		err = fastRestore(ctx, counter, src.plan, out, src.limits, logger)
	}
	if errors.Is(err, os.ErrNotExist) && ctx.Err() == nil {
		// Not a fault of the fast path: the plan is out of date.
		stop()
		return f, sysexit.New(sysexit.Unavailable, fmt.Errorf("restore from %s: %w: %w", src.url, errVanished, err))
	}
	if err != nil && ctx.Err() == nil {
		if !errors.Is(err, errNoFastPath) {
			logger.Warn("parallel restore failed, falling back to Litestream's restore", "error", err.Error())
			removeAll(out)
		}
		err = r.Restore(ctx, opt)
	}
	stop()
	f.Download = time.Since(start)
	f.Downloaded = counter.n.Load()
	if err != nil {
		return f, classifyRestore(ctx, fmt.Errorf("restore from %s: %w", src.url, err), sysexit.DataErr)
	}
	st, err := os.Stat(out)
	if err != nil {
		return f, sysexit.New(sysexit.CantCreate, err)
	}
	f.Size = st.Size()
	if durable {
		wait := syncBeside(out)
		defer func() {
			d, serr := wait()
			f.Fsync = d
			if serr != nil && err == nil {
				err = sysexit.New(sysexit.CantCreate, fmt.Errorf("fsync restored file: %w", serr))
			}
		}()
	}
	markerStart := time.Now()
	if src.contents.LTX {
		// For the marker: the sidecar's lineage guard proves with it that
		// the replica still holds this history, not another writer's.
		if f.L0File, f.L0Checksum, err = l0Checksum(ctx, src); errors.Is(err, os.ErrNotExist) && ctx.Err() == nil {
			return f, sysexit.New(sysexit.Unavailable, fmt.Errorf("read the checksum of the restored position from %s: %w: %w", src.url, errVanished, err))
		} else if err != nil {
			return f, classifyRestore(ctx, fmt.Errorf("read the checksum of the restored position from %s: %w", src.url, err), sysexit.Unavailable)
		}
		tr := <-when
		if errors.Is(tr.err, os.ErrNotExist) && ctx.Err() == nil {
			return f, sysexit.New(sysexit.Unavailable, fmt.Errorf("read the time of the restored position from %s: %w: %w", src.url, errVanished, tr.err))
		} else if tr.err != nil {
			return f, classifyRestore(ctx, fmt.Errorf("read the time of the restored position from %s: %w", src.url, tr.err), sysexit.Unavailable)
		}
		f.Time = tr.t
	}

	f.Marker = time.Since(markerStart)
	checkStart := time.Now()
	err = verify.Check(ctx, out, mode)
	f.Check = time.Since(checkStart)
	if err != nil {
		return f, classifyRestore(ctx, fmt.Errorf("restored from %s: %w", src.url, err), sysexit.DataErr)
	}
	return f, nil
}

// l0Checksum is the name and file checksum of the replica's L0 file
// ending at the restored position; "" and 0 when level 0 holds no such file.
func l0Checksum(ctx context.Context, src *source) (string, ltx.Checksum, error) {
	info := src.plan[len(src.plan)-1]
	var sum ltx.Checksum
	var err error
	if info.Level == 0 && info.MaxTXID == src.txid {
		sum, err = ltxstate.RemoteFileChecksum(ctx, src.listings(), info) // no listing needed
	} else {
		info, sum, err = ltxstate.L0At(ctx, src.listings(), src.txid)
	}
	if err != nil || info == nil {
		return "", 0, err
	}
	return ltx.FormatFilename(info.MinTXID, info.MaxTXID), sum, nil
}

// timeRead is the time of a restore's position (ltxstate.TXIDTime).
type timeRead struct {
	t   time.Time
	err error
}

// readTXIDTime starts reading the time of the position src restores to;
// the channel delivers it once.
func readTXIDTime(ctx context.Context, src *source) <-chan timeRead {
	c := make(chan timeRead, 1)
	go func() {
		t, err := ltxstate.TXIDTime(ctx, src.listings(), src.plan[len(src.plan)-1])
		c <- timeRead{t, err}
	}()
	return c
}

// reportProgress logs bytes, MB/s and ETA every progressEvery until the
// returned stop is called.
func reportProgress(logger *slog.Logger, c *countingClient, total int64, start time.Time) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := c.n.Load()
				el := time.Since(start).Seconds()
				rate := float64(n) / el
				attrs := []any{"bytes", n, "total_bytes", total, "mb_per_s", fmt.Sprintf("%.2f", rate/1e6)}
				if rate > 0 && total > n {
					attrs = append(attrs, "eta", (time.Duration(float64(total-n)/rate) * time.Second).Round(time.Second).String())
				}
				logger.Info("restore in progress", attrs...)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// countingClient counts the bytes read from LTX files and refuses every
// write: a restore never writes to the bucket.
type countingClient struct {
	litestream.ReplicaClient
	n atomic.Int64
}

// errReadOnly is returned by the write methods of countingClient.
var errReadOnly = errors.New("restore is read-only: refusing to write to the replica")

func (c *countingClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, n: &c.n}, nil
}

func (c *countingClient) WriteLTXFile(context.Context, int, ltx.TXID, ltx.TXID, io.Reader) (*ltx.FileInfo, error) {
	return nil, errReadOnly
}

func (c *countingClient) DeleteLTXFiles(context.Context, []*ltx.FileInfo) error { return errReadOnly }

func (c *countingClient) DeleteAll(context.Context) error { return errReadOnly }

var _ litestream.ReplicaClient = (*countingClient)(nil)

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}
