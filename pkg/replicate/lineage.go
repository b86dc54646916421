package replicate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/replica"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// ErrLineage: the replica holds a backup this local database does not
// descend from. Replicating would make Litestream snapshot the local
// database over the backup (its checkDatabaseBehindReplica adopts the
// remote position and the next sync writes a snapshot of whatever is
// local), and the next restore would return it.
var ErrLineage = errors.New("lineage conflict")

// lineage is what the guard decides from.
type lineage struct {
	url     string          // our REPLICA_URL, as the marker records it
	remote  ltx.TXID        // highest TXID on the replica, 0 when empty
	local   ltx.TXID        // Litestream's local position (.<name>-litestream), 0 when none
	marker  *replica.Marker // the restore marker, nil when absent
	markErr error           // why the marker could not be read, when it exists but is bad
}

// check applies the rule (package doc, README "Lineage rule"). The local
// database may replicate to a prefix that holds data only when it provably
// descends from that data:
//  1. the replica is empty, or
//  2. Litestream's own local state shows this database already reached the
//     replica's position (the same sidecar wrote it: a container restart), or
//  3. the restore marker names this replica and a position at or above the
//     replica's (init restored it, and nobody has written since).
//
// Anything else — no marker, a marker for another URL, a marker "new" while
// the prefix now holds data, a marker below the replica — is refused.
func (l lineage) check() error {
	if l.remote == 0 || (l.local != 0 && l.local >= l.remote) {
		return nil
	}
	m := l.marker
	switch {
	case m == nil && l.markErr != nil:
		return l.refuse(fmt.Sprintf("the restore marker is unreadable (%v)", l.markErr))
	case m == nil:
		return l.refuse("there is no restore marker: the init step (restore) did not run for this database")
	case m.ReplicaURL != l.url:
		return l.refuse(fmt.Sprintf("the restore marker names another replica (%s)", m.ReplicaURL))
	case m.Outcome == replica.OutcomeNew:
		return l.refuse("restore found the prefix empty, but another writer has written to it since")
	case ltx.TXID(m.TXID) < l.remote:
		return l.refuse(fmt.Sprintf("it was restored at position %s and the replica has moved on since (another writer)", ltx.TXID(m.TXID)))
	}
	return nil
}

func (l lineage) refuse(why string) error {
	return sysexit.New(sysexit.DataErr, fmt.Errorf(
		"%w: refusing to replicate: %s holds a backup at position %s (local position %s) and this database was not restored from it: %s; "+
			"run restore first (init container / prestart task), or point REPLICA_URL at a new prefix",
		ErrLineage, l.url, l.remote, l.local, why))
}

// remotePos returns the highest TXID on the replica across all levels
// (L0 files may have been compacted away).
func remotePos(ctx context.Context, client litestream.ReplicaClient) (ltx.TXID, error) {
	if err := client.Init(ctx); err != nil {
		return 0, err
	}
	var maxTXID ltx.TXID
	for level := 0; level <= litestream.SnapshotLevel; level++ {
		itr, err := client.LTXFiles(ctx, level, 0, false)
		if err != nil {
			return 0, err
		}
		for itr.Next() {
			maxTXID = max(maxTXID, itr.Item().MaxTXID)
		}
		if err := errors.Join(itr.Err(), itr.Close()); err != nil {
			return 0, err
		}
	}
	return maxTXID, nil
}

// localPos is Litestream's local position for dbPath: the highest TXID of
// the L0 files in .<name>-litestream/ltx/0 (what DB.Pos reads), 0 when there
// is no local state. Read from the names, without a Litestream DB object,
// so that nothing caches it before a rebaseline removes that state.
func localPos(dbPath string) (ltx.TXID, error) {
	ents, err := os.ReadDir(filepath.Join(replica.MetaDir(dbPath), "ltx", "0"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	var pos ltx.TXID
	for _, e := range ents {
		if _, maxTXID, err := ltx.ParseFilename(e.Name()); err == nil {
			pos = max(pos, maxTXID)
		}
	}
	return pos, nil
}
