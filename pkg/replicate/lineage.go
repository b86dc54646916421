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

// ErrBehind: the database was restored from this replica and nothing has
// replicated it since, but the replica has moved on: a writer synced after
// the restore (a predecessor's final sync that restore could not wait for).
// It is a lineage conflict too (errors.Is matches both); the sidecar holds
// it up loudly instead of exiting, since only a new restore fixes it.
var ErrBehind = errors.New("local database behind the replica")

// lineage is what the guard decides from.
type lineage struct {
	url     string          // our REPLICA_URL, as the marker records it
	remote  ltx.TXID        // highest TXID on the replica, 0 when empty
	local   ltx.TXID        // Litestream's local position (.<name>-litestream), 0 when none
	marker  *replica.Marker // the restore marker, nil when absent
	markErr error           // why the marker could not be read, when it exists but is bad

	// The file checksum of the replica's L0 file ending at remote (0 when
	// its newest file is a compacted one), and of the local L0 file of the
	// same name (localOK false when there is none). See pkg/replica's
	// checksum.go: equal, they prove the same history at remote.
	remoteSum ltx.Checksum
	localSum  ltx.Checksum
	localOK   bool
}

// verdict is how the guard let the sidecar go on.
type verdict int

const (
	viaEmpty  verdict = iota // the replica is empty
	viaLocal                 // Litestream's local state holds the replica's position, same content
	viaMarker                // the restore marker holds it; local state, if any, proves nothing
)

// check applies the rule (package doc, README "Lineage rule"). The local
// database may replicate to a prefix that holds data only when it provably
// descends from that data:
//  1. the replica is empty, or
//  2. Litestream's own local state holds the very file that brought the
//     replica to its position (same name, same file checksum: the same
//     sidecar wrote it, or fetched it when it started), so this database
//     is at or past that point of that history: a container restart, or
//  3. the restore marker names this replica and exactly its position, with
//     the same file there (init restored it, and nobody has written since).
//
// Positions alone are not proof: two writers restored from one position
// number their next transactions alike, so a sidecar whose local state is
// "ahead" may hold another history at the same numbers. Anything else — no
// marker, a marker for another URL, a marker "new" while the prefix now
// holds data, a marker below the replica (another writer moved on) or above
// it (the history it came from was replaced), a checksum that differs — is
// refused.
func (l lineage) check() (verdict, error) {
	if l.remote == 0 {
		return viaEmpty, nil
	}
	if l.local >= l.remote && l.localOK && l.localSum == l.remoteSum && l.remoteSum != 0 {
		return viaLocal, nil
	}
	m := l.marker
	switch {
	case m == nil && l.markErr != nil:
		return 0, l.refuse(fmt.Sprintf("%sthe restore marker is unreadable (%v)", l.localWhy(), l.markErr))
	case m == nil:
		return 0, l.refuse(l.localWhy() + "there is no restore marker: the init step (restore) did not run for this database")
	case m.ReplicaURL != l.url:
		return 0, l.refuse(fmt.Sprintf("%sthe restore marker names another replica (%s)", l.localWhy(), m.ReplicaURL))
	case m.Outcome == replica.OutcomeNew:
		return 0, l.refuse(l.localWhy() + "restore found the prefix empty, but another writer has written to it since")
	case ltx.TXID(m.TXID) < l.remote && l.local == 0 && m.Outcome != replica.OutcomeNew:
		return 0, l.behind()
	case ltx.TXID(m.TXID) < l.remote:
		return 0, l.refuse(fmt.Sprintf("%sit was restored at position %s and the replica has moved on since (another writer)", l.localWhy(), ltx.TXID(m.TXID)))
	case ltx.TXID(m.TXID) > l.remote:
		return 0, l.refuse(fmt.Sprintf("%sit was restored at position %s, above the replica's: the history it came from was replaced since (another writer started a new one)", l.localWhy(), ltx.TXID(m.TXID)))
	case !m.MatchesL0(l.remoteSum):
		return 0, l.refuse(fmt.Sprintf("%sit was restored at this position from a file with checksum %s, but the replica's file there now has checksum %s (another writer's history)", l.localWhy(), m.L0Checksum, l.remoteSum))
	}
	return viaMarker, nil
}

// localWhy says why Litestream's local state did not prove the lineage,
// when there is local state at or above the replica's position.
func (l lineage) localWhy() string {
	switch {
	case l.local < l.remote:
		return ""
	case !l.localOK:
		return fmt.Sprintf("Litestream's local state (position %s) does not hold the replica's file at its position; ", l.local)
	default:
		return fmt.Sprintf("Litestream's local file at the replica's position has checksum %s, the replica's %s (another writer's history); ", l.localSum, l.remoteSum)
	}
}

func (l lineage) refuse(why string) error {
	return sysexit.New(sysexit.DataErr, fmt.Errorf(
		"%w: refusing to replicate: %s holds a backup at position %s (local position %s) and this database was not restored from it: %s; "+
			"run restore first (init container / prestart task), or point REPLICA_URL at a new prefix",
		ErrLineage, l.url, l.remote, l.local, why))
}

// behind is the refusal of a copy restored before the replica moved on.
func (l lineage) behind() error {
	return sysexit.New(sysexit.DataErr, fmt.Errorf(
		"%w (%w): %s was restored at position %s and the replica is at %s now: a writer synced after this copy was restored "+
			"(a predecessor's final sync that restore could not wait for, or a second writer). Replicating it would fork the history, so the sidecar does not, "+
			"and the app must not run on it: delete the pod (restart the allocation) so that restore brings back the replica's final state; "+
			"if the app already wrote to this copy, follow docs/runbook.md to keep both sides' writes",
		ErrBehind, ErrLineage, l.url, ltx.TXID(l.marker.TXID), l.remote))
}

// remoteTip returns a file holding the highest TXID on the replica across
// all levels (L0 files may have been compacted away), nil when empty.
func remoteTip(ctx context.Context, client litestream.ReplicaClient) (*ltx.FileInfo, error) {
	if err := client.Init(ctx); err != nil {
		return nil, err
	}
	var tip *ltx.FileInfo
	for level := 0; level <= litestream.SnapshotLevel; level++ {
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
