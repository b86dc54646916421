package restore

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// listedClient serves litestream.CalcRestorePlan's listings from one
// listing of every level made at once. Litestream lists level 9, then 8
// down to 0, one after another: ten round trips to the store, most of a
// restore's planning and of the start of a pod whose database is already
// present. Small reads go through store when it is set (below); any other
// call, or a listing asked differently (a seek, each object's own
// timestamp of a listing made without), goes to the replica client as
// before.
type listedClient struct {
	litestream.ReplicaClient
	metadata bool
	levels   [litestream.SnapshotLevel + 1]levelListing
	// store, when set, serves small reads (a trailer: the lineage proof,
	// the marker's checksum) through the preflight's client, whose
	// connections are open already: the replica client's first request
	// would open its own, one more round trip on a pod's start.
	store *bucket.Store
	// trailer, when set, is a read of one level-0 file's trailer that
	// began before the listing (readTrailer).
	trailer *trailerRead
}

// trailerRead is a read of a level-0 file's trailer started beside the
// preflight, before any listing names the file: a database already
// present knows which file should bring the replica to its position
// (ltxstate.Local.TipL0), and the lineage proof reads that file's trailer.
// Read after the listing, it was one more round trip before the app may
// start. It serves only a trailer read of that very file, as listed.
type trailerRead struct {
	min, max ltx.TXID
	done     chan struct{}
	b        []byte
	err      error
}

func readTrailer(ctx context.Context, store *bucket.Store, name string) *trailerRead {
	minTXID, maxTXID, err := ltx.ParseFilename(name)
	if err != nil {
		return nil
	}
	t := &trailerRead{min: minTXID, max: maxTXID, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.b, t.err = store.ReadSuffix(ctx, ltxstate.LTXObjectKey(store.Prefix, 0, minTXID, maxTXID), ltx.TrailerSize)
	}()
	return t
}

// serves reports whether t holds what a read of offset, size of the
// level-0 file min-max is asking for: its trailer, as the listing sizes it.
func (c *listedClient) serves(t *trailerRead, level int, minTXID, maxTXID ltx.TXID, offset, size int64) bool {
	if t == nil || level != 0 || minTXID != t.min || maxTXID != t.max || size != ltx.TrailerSize {
		return false
	}
	for _, info := range c.levels[0].infos {
		if info.MinTXID == minTXID && info.MaxTXID == maxTXID {
			return offset == info.Size-ltx.TrailerSize
		}
	}
	return false
}

// smallRead is the largest read store serves.
const smallRead = 64 << 10

type levelListing struct {
	infos []*ltx.FileInfo
	err   error
}

// listAllLevels lists every level of client concurrently; metadata is the
// useMetadata flag the plan will ask for (timestamp restores need it).
func listAllLevels(ctx context.Context, client litestream.ReplicaClient, metadata bool) *listedClient {
	c := &listedClient{ReplicaClient: client, metadata: metadata}
	var wg sync.WaitGroup
	for level := range c.levels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &c.levels[level]
			l.infos, l.err = listLevel(ctx, client, level, metadata)
		}()
	}
	wg.Wait()
	return c
}

// listedFrom serves the plan from levels the preflight's own listing
// already holds (bucket.Contents.Levels): no listing of its own at all.
func listedFrom(client litestream.ReplicaClient, levels [][]*ltx.FileInfo) *listedClient {
	c := &listedClient{ReplicaClient: client}
	for level := range c.levels {
		c.levels[level].infos = levels[level]
	}
	return c
}

func listLevel(ctx context.Context, client litestream.ReplicaClient, level int, metadata bool) ([]*ltx.FileInfo, error) {
	itr, err := client.LTXFiles(ctx, level, 0, metadata)
	if err != nil {
		return nil, err
	}
	var infos []*ltx.FileInfo
	for itr.Next() {
		infos = append(infos, itr.Item())
	}
	err = itr.Err()
	if cerr := itr.Close(); err == nil {
		err = cerr
	}
	return infos, err
}

func (c *listedClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	if t := c.trailer; c.serves(t, level, minTXID, maxTXID, offset, size) {
		select {
		case <-t.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if t.err == nil && len(t.b) == ltx.TrailerSize {
			return io.NopCloser(bytes.NewReader(t.b)), nil
		}
		// A failed early read proves nothing: the file is read again below.
	}
	if c.store == nil || size <= 0 || size > smallRead {
		return c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	}
	b, err := c.store.ReadRange(ctx, ltxstate.LTXObjectKey(c.store.Prefix, level, minTXID, maxTXID), offset, size)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (c *listedClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	// A listing with each object's own timestamp serves one asked without:
	// the timestamps are only more exact.
	if seek != 0 || (useMetadata && !c.metadata) || level < 0 || level >= len(c.levels) {
		return c.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
	}
	l := c.levels[level]
	if l.err != nil {
		return nil, l.err
	}
	return ltx.NewFileInfoSliceIterator(l.infos), nil
}
