package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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

// L0Tip returns the replica's newest L0 file, nil when level 0 is empty.
func L0Tip(ctx context.Context, client litestream.ReplicaClient) (*ltx.FileInfo, error) {
	itr, err := client.LTXFiles(ctx, 0, 0, false)
	if err != nil {
		return nil, err
	}
	var tip *ltx.FileInfo
	for itr.Next() {
		if it := itr.Item(); tip == nil || it.MaxTXID > tip.MaxTXID {
			info := *it
			info.Level = 0
			tip = &info
		}
	}
	if err := errors.Join(itr.Err(), itr.Close()); err != nil {
		return nil, err
	}
	return tip, nil
}

// L0At returns the replica's newest L0 file and its file checksum when
// that file ends at txid; nil and 0 when level 0 is empty or its newest
// file ends elsewhere (the newest position is then a compacted file, and
// there is nothing to compare).
func L0At(ctx context.Context, client litestream.ReplicaClient, txid ltx.TXID) (*ltx.FileInfo, ltx.Checksum, error) {
	tip, err := L0Tip(ctx, client)
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

// LocalFileChecksum returns the file checksum of Litestream's local L0 file
// minTXID-maxTXID beside dbPath; ok is false when there is no such file.
func LocalFileChecksum(dbPath string, minTXID, maxTXID ltx.TXID) (sum ltx.Checksum, ok bool, err error) {
	p := filepath.Join(MetaDir(dbPath), "ltx", "0", ltx.FormatFilename(minTXID, maxTXID))
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	if fi.Size() < ltx.HeaderSize+ltx.TrailerSize {
		return 0, false, nil // a torn local file proves nothing
	}
	b := make([]byte, ltx.TrailerSize)
	if _, err := f.ReadAt(b, fi.Size()-ltx.TrailerSize); err != nil {
		return 0, false, fmt.Errorf("read the trailer of %s: %w", p, err)
	}
	sum, err = trailerSum(b)
	return sum, err == nil, err
}

func trailerSum(b []byte) (ltx.Checksum, error) {
	var tr ltx.Trailer
	if err := tr.UnmarshalBinary(b); err != nil {
		return 0, err
	}
	return tr.FileChecksum, nil
}
