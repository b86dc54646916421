package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// replicaCheckInterval is how often the sidecar checks that the replica
// still holds its newest snapshot. One LIST of the snapshot level each
// time: small next to Litestream's one PUT per sync.
const replicaCheckInterval = 10 * time.Second

// ErrReplicaLost: the replica no longer holds the history this sidecar
// wrote (the prefix was wiped, or the object store lost its data).
// Litestream alone would not notice: it keeps its position in memory and
// goes on uploading increments on top of nothing, which no restore can
// use, while reporting every sync a success.
var ErrReplicaLost = errors.New("replica history lost")

// snapshotWatch remembers the newest snapshot (level 9) the replica is
// known to hold, learnt from the listing or from our own uploads, and
// checks that it is still there. Snapshot retention deletes only snapshots
// older than a newer one, so the newest never goes away in normal
// operation; increments uploaded after a wipe are never snapshots, so they
// cannot hide the loss.
type snapshotWatch struct {
	client litestream.ReplicaClient
	known  atomic.Uint64
}

// uploaded is the upload hook: a snapshot we wrote is one the replica holds.
func (w *snapshotWatch) uploaded(level int, maxTXID ltx.TXID) {
	if level == litestream.SnapshotLevel {
		w.raise(uint64(maxTXID))
	}
}

func (w *snapshotWatch) raise(v uint64) {
	for {
		cur := w.known.Load()
		if v <= cur || w.known.CompareAndSwap(cur, v) {
			return
		}
	}
}

// forget starts over, for a new history.
func (w *snapshotWatch) forget() { w.known.Store(0) }

// check lists the snapshot level: ErrReplicaLost when the newest known
// snapshot is gone and nothing newer replaced it, bucket.ErrNoBucket when
// the bucket is, another error when the replica cannot be read (an outage
// proves nothing).
func (w *snapshotWatch) check(ctx context.Context) error {
	known := ltx.TXID(w.known.Load())
	ctx, cancel := context.WithTimeout(ctx, replicaCheckInterval)
	defer cancel()
	itr, err := w.client.LTXFiles(ctx, litestream.SnapshotLevel, 0, false)
	if err != nil {
		return classifyListing(err)
	}
	var newest ltx.TXID
	for itr.Next() {
		newest = max(newest, itr.Item().MaxTXID)
	}
	if err := errors.Join(itr.Err(), itr.Close()); err != nil {
		return classifyListing(err)
	}
	if newest < known {
		if newest == 0 {
			return fmt.Errorf("%w: its newest snapshot (TXID %s) and every other one are gone: the prefix was wiped or the object store lost data", ErrReplicaLost, known)
		}
		return fmt.Errorf("%w: its newest snapshot (TXID %s) is gone, the newest left is %s: the prefix was altered or the object store lost data", ErrReplicaLost, known, newest)
	}
	w.raise(uint64(newest))
	return nil
}

func classifyListing(err error) error {
	// The bucket itself is gone. Nothing can be written until an operator
	// recreates it; the watcher says so, and once the bucket is back
	// (empty) the next check reports ErrReplicaLost.
	if isAWSCode(err, "NoSuchBucket") {
		return fmt.Errorf("%w: %v", bucket.ErrNoBucket, err)
	}
	return err
}

// isAWSCode matches an AWS SDK API error by code, without importing the
// SDK: its errors implement ErrorCode().
func isAWSCode(err error, code string) bool {
	var api interface{ ErrorCode() string }
	return errors.As(err, &api) && api.ErrorCode() == code
}

// baseless reports whether the replica holds increments but nothing a
// restore can start from: no snapshot and no file beginning at TXID 1.
// That is what a wipe leaves once Litestream has uploaded on top of it; a
// sidecar restarted then (before its watcher saw the loss, or after a
// failed recovery) must not go on appending to it.
func baseless(ctx context.Context, client litestream.ReplicaClient) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	any := false
	for level := litestream.SnapshotLevel; level >= 0; level-- {
		itr, err := client.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return false, err
		}
		base := false
		for itr.Next() {
			any = true
			base = base || level == litestream.SnapshotLevel || itr.Item().MinTXID == 1
		}
		if err := errors.Join(itr.Err(), itr.Close()); err != nil {
			return false, err
		}
		if base {
			return false, nil
		}
	}
	return any, nil
}
