package replicate

import (
	"errors"
	"fmt"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
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

// check applies the lineage rule (ltxstate.Evidence.Prove) for the
// sidecar: the local database may replicate to a prefix that holds data
// only when it provably descends from that data. Anything else — no
// marker, a marker for another URL, a marker "new" while the prefix now
// holds data, a marker below the replica (another writer moved on) or above
// it (the history it came from was replaced), a checksum that differs — is
// refused, and the refusal says which.
func check(e ltxstate.Evidence) (ltxstate.Proof, error) {
	if p := e.Prove(); p != ltxstate.Unproven {
		return p, nil
	}
	m := e.Marker
	switch {
	case m == nil && e.MarkerErr != nil:
		return 0, refuse(e, fmt.Sprintf("%sthe restore marker is unreadable (%v)", localWhy(e), e.MarkerErr))
	case m == nil:
		return 0, refuse(e, localWhy(e)+"there is no restore marker: the init step (restore) did not run for this database")
	case m.ReplicaURL != e.URL:
		return 0, refuse(e, fmt.Sprintf("%sthe restore marker names another replica (%s)", localWhy(e), m.ReplicaURL))
	case m.Outcome == ltxstate.OutcomeNew:
		return 0, refuse(e, localWhy(e)+"restore found the prefix empty, but another writer has written to it since")
	case ltx.TXID(m.TXID) < e.Remote && e.Local == 0:
		return 0, behind(e)
	case ltx.TXID(m.TXID) < e.Remote:
		return 0, refuse(e, fmt.Sprintf("%sit was restored at position %s and the replica has moved on since (another writer)", localWhy(e), ltx.TXID(m.TXID)))
	case ltx.TXID(m.TXID) > e.Remote:
		return 0, refuse(e, fmt.Sprintf("%sit was restored at position %s, above the replica's: the history it came from was replaced since (another writer started a new one)", localWhy(e), ltx.TXID(m.TXID)))
	default:
		return 0, refuse(e, fmt.Sprintf("%sit was restored at this position from a file with checksum %s, but the replica's file there now has checksum %s (another writer's history)", localWhy(e), m.L0Checksum, e.RemoteSum))
	}
}

// localWhy says why Litestream's local state did not prove the lineage,
// when there is local state at or above the replica's position.
func localWhy(e ltxstate.Evidence) string {
	switch {
	case e.Local < e.Remote:
		return ""
	case !e.LocalOK:
		return fmt.Sprintf("Litestream's local state (position %s) does not hold the replica's file at its position; ", e.Local)
	default:
		return fmt.Sprintf("Litestream's local file at the replica's position has checksum %s, the replica's %s (another writer's history); ", e.LocalSum, e.RemoteSum)
	}
}

func refuse(e ltxstate.Evidence, why string) error {
	return sysexit.New(sysexit.DataErr, fmt.Errorf(
		"%w: refusing to replicate: %s holds a backup at position %s (local position %s) and this database was not restored from it: %s; "+
			"run restore first (init container / prestart task), or point REPLICA_URL at a new prefix",
		ErrLineage, e.URL, e.Remote, e.Local, why))
}

// behind is the refusal of a copy restored before the replica moved on.
func behind(e ltxstate.Evidence) error {
	return sysexit.New(sysexit.DataErr, fmt.Errorf(
		"%w (%w): %s was restored at position %s and the replica is at %s now: a writer synced after this copy was restored "+
			"(a predecessor's final sync that restore could not wait for, or a second writer). Replicating it would fork the history, so the sidecar does not, "+
			"and the app must not run on it: delete the pod (restart the allocation) so that restore brings back the replica's final state; "+
			"if the app already wrote to this copy, follow docs/operations.md to keep both sides' writes",
		ErrBehind, ErrLineage, e.URL, ltx.TXID(e.Marker.TXID), e.Remote))
}
