package ltxstate

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// A TXID says where a history is, not whose it is: two writers restored
// from one position number their next transactions alike. What tells two
// histories apart is the LTX file that reached the position: Litestream
// v0.5 writes its files without database checksums (HeaderFlagNoChecksum),
// but every file's trailer carries a CRC-64 of the whole file, which covers
// its header (timestamp, WAL salts and offset) and pages. Two writers never
// produce the same file, and Litestream's local copy of a file it uploaded
// (or fetched, when it starts behind the replica) is byte for byte the
// replica's. So the lineage guard compares that file checksum at the
// replica's position.

// Tip returns the file holding the replica's highest TXID across all
// levels (level 0 may have been compacted away), nil when it is empty.
func Tip(ctx context.Context, client litestream.ReplicaClient) (*ltx.FileInfo, error) {
	if err := client.Init(ctx); err != nil {
		return nil, err
	}
	return newest(ctx, client, 0, litestream.SnapshotLevel)
}

// newest returns the file with the highest TXID in levels lo..hi, nil when
// they are empty.
func newest(ctx context.Context, client litestream.ReplicaClient, lo, hi int) (*ltx.FileInfo, error) {
	var tip *ltx.FileInfo
	for level := lo; level <= hi; level++ {
		itr, err := client.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return nil, err
		}
		for itr.Next() {
			if it := itr.Item(); tip == nil || it.MaxTXID > tip.MaxTXID {
				info := *it
				info.Level = level
				tip = &info
			}
		}
		if err := errors.Join(itr.Err(), itr.Close()); err != nil {
			return nil, err
		}
	}
	return tip, nil
}

// L0At returns the replica's newest L0 file and its file checksum when
// that file ends at txid; nil and 0 when level 0 is empty or its newest
// file ends elsewhere (the newest position is then a compacted file, and
// there is nothing to compare).
func L0At(ctx context.Context, client litestream.ReplicaClient, txid ltx.TXID) (*ltx.FileInfo, ltx.Checksum, error) {
	tip, err := newest(ctx, client, 0, 0)
	if err != nil || tip == nil || tip.MaxTXID != txid {
		return nil, 0, err
	}
	sum, err := RemoteFileChecksum(ctx, client, tip)
	if err != nil {
		return nil, 0, err
	}
	return tip, sum, nil
}

// RemoteFileChecksum returns the file checksum from the trailer of the
// replica's file info (at info.Level): one ranged read of ltx.TrailerSize
// bytes.
func RemoteFileChecksum(ctx context.Context, client litestream.ReplicaClient, info *ltx.FileInfo) (ltx.Checksum, error) {
	name := ltx.FormatFilename(info.MinTXID, info.MaxTXID)
	if info.Size < ltx.HeaderSize+ltx.TrailerSize {
		return 0, fmt.Errorf("LTX file %s at level %d is %d bytes, too short to hold a trailer", name, info.Level, info.Size)
	}
	rc, err := client.OpenLTXFile(ctx, info.Level, info.MinTXID, info.MaxTXID, info.Size-ltx.TrailerSize, ltx.TrailerSize)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	b := make([]byte, ltx.TrailerSize)
	if _, err := io.ReadFull(rc, b); err != nil {
		return 0, fmt.Errorf("read the trailer of %s at level %d: %w", name, info.Level, err)
	}
	return trailerSum(b)
}

func trailerSum(b []byte) (ltx.Checksum, error) {
	var tr ltx.Trailer
	if err := tr.UnmarshalBinary(b); err != nil {
		return 0, err
	}
	return tr.FileChecksum, nil
}

// Span returns what a point-in-time restore can reach: the oldest snapshot
// (nothing before it can be restored) and the newest file on the replica;
// nil when there is none.
func Span(ctx context.Context, client litestream.ReplicaClient) (oldest, newest *ltx.FileInfo, err error) {
	itr, err := client.LTXFiles(ctx, litestream.SnapshotLevel, 0, false)
	if err != nil {
		return nil, nil, err
	}
	for itr.Next() {
		if it := itr.Item(); oldest == nil || it.MaxTXID < oldest.MaxTXID {
			info := *it
			info.Level = litestream.SnapshotLevel
			oldest = &info
		}
	}
	if err := errors.Join(itr.Err(), itr.Close()); err != nil {
		return nil, nil, err
	}
	newest, err = Tip(ctx, client)
	return oldest, newest, err
}
