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
// call, or a listing asked differently (a seek, other metadata), goes to
// the replica client as before.
type listedClient struct {
	litestream.ReplicaClient
	metadata bool
	levels   [litestream.SnapshotLevel + 1]levelListing
	// store, when set, serves small reads (a trailer: the lineage proof,
	// the marker's checksum) through the preflight's client, whose
	// connections are open already: the replica client's first request
	// would open its own, one more round trip on a pod's start.
	store *bucket.Store
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
	if seek != 0 || useMetadata != c.metadata || level < 0 || level >= len(c.levels) {
		return c.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
	}
	l := c.levels[level]
	if l.err != nil {
		return nil, l.err
	}
	return ltx.NewFileInfoSliceIterator(l.infos), nil
}
