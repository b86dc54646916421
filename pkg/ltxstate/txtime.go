package ltxstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// A TXID has one time: when Litestream shipped it. Every report of a
// position's time (restore --verify, the restore marker and log, the span
// a --timestamp can reach) reads it from TXIDTime, and --timestamp selects
// by the same stamp, so that a time one of them prints, given back to
// --timestamp, restores that very TXID.
//
// An object's LastModified is not that time: compaction writes the same
// transactions again into a new object at each level, and a snapshot
// writes them again, each later. The LTX header's Timestamp is:
// Litestream stamps each level-0 file as it writes it, and compaction
// stamps its output with its newest input's stamp (ltx.Compactor), so
// every file of levels 0 to 8 that ends at a TXID carries the time that
// TXID was shipped. Only a snapshot is stamped when it is taken, later.
// Litestream's own --timestamp selection reads the header stamp too: its
// S3 client copies it into each object's metadata, its file client into
// the file's mtime.

// TimeFormat prints a TXID's time. Header stamps are whole milliseconds:
// printed to the millisecond, a time copied into --timestamp selects
// exactly the TXID it was printed for (RFC 3339 with whole seconds would
// fall before it).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// TimeFile returns the file whose header stamp is the time of txid: of
// files, the one of the lowest level that ends at txid; a snapshot only
// when no other file ends there (its stamp, though later than the
// shipping, is then the earliest time the replica shows txid at). Nil
// when no file ends at txid.
func TimeFile(files []*ltx.FileInfo, txid ltx.TXID) *ltx.FileInfo {
	var best *ltx.FileInfo
	for _, f := range files {
		if f.MaxTXID == txid && (best == nil || f.Level < best.Level) {
			best = f
		}
	}
	return best
}

// TXIDTime returns the time of the TXID end ends at; end is a file of the
// replica (at end.Level), such as a restore plan's last. Below the
// snapshot level end's own stamp is that time, one ranged read of its
// header; for a snapshot the lower levels are listed for a file ending at
// the same TXID (TimeFile).
func TXIDTime(ctx context.Context, client litestream.ReplicaClient, end *ltx.FileInfo) (time.Time, error) {
	f := end
	if end.Level == litestream.SnapshotLevel {
		files, err := endingAt(ctx, client, end.MaxTXID)
		if err != nil {
			return time.Time{}, err
		}
		f = TimeFile(append(files, end), end.MaxTXID)
	}
	return HeaderTime(ctx, client, f)
}

// endingAt lists levels 0 up to the one below the snapshots, stopping at
// the first that holds a file ending at txid, and returns those files.
func endingAt(ctx context.Context, client litestream.ReplicaClient, txid ltx.TXID) ([]*ltx.FileInfo, error) {
	var found []*ltx.FileInfo
	for level := 0; level < litestream.SnapshotLevel && len(found) == 0; level++ {
		itr, err := client.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return nil, err
		}
		for itr.Next() {
			if it := itr.Item(); it.MaxTXID == txid {
				info := *it
				info.Level = level
				found = append(found, &info)
			}
		}
		if err := errors.Join(itr.Err(), itr.Close()); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// HeaderTime returns the stamp of the LTX header of the replica's file
// info (at info.Level): one ranged read of ltx.HeaderSize bytes. It is the
// file's own stamp; TXIDTime is a TXID's.
func HeaderTime(ctx context.Context, client litestream.ReplicaClient, info *ltx.FileInfo) (time.Time, error) {
	name := ltx.FormatFilename(info.MinTXID, info.MaxTXID)
	rc, err := client.OpenLTXFile(ctx, info.Level, info.MinTXID, info.MaxTXID, 0, ltx.HeaderSize)
	if err != nil {
		return time.Time{}, err
	}
	defer rc.Close()
	b := make([]byte, ltx.HeaderSize)
	if _, err := io.ReadFull(rc, b); err != nil {
		return time.Time{}, fmt.Errorf("read the header of %s at level %d: %w", name, info.Level, err)
	}
	var h ltx.Header
	if err := h.UnmarshalBinary(b); err != nil {
		return time.Time{}, fmt.Errorf("header of %s at level %d: %w", name, info.Level, err)
	}
	if h.MinTXID != info.MinTXID || h.MaxTXID != info.MaxTXID || h.Timestamp <= 0 {
		return time.Time{}, fmt.Errorf("header of %s at level %d holds TXIDs %s-%s stamped %d: not this file's", name, info.Level, h.MinTXID, h.MaxTXID, h.Timestamp)
	}
	return time.UnixMilli(h.Timestamp).UTC(), nil
}
