package ltxstate

import (
	"context"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// Evidence is what the lineage proof decides from: where the replica is,
// whose history it holds there, and what the local copy can show of it.
type Evidence struct {
	URL    string   // REPLICA_URL, as the marker records it
	Remote ltx.TXID // the replica's highest TXID, 0 when it is empty
	// RemoteL0 is the replica's level-0 file ending at Remote and RemoteSum
	// its file checksum; nil and 0 when the newest position is a compacted
	// file only (there is then nothing to compare).
	RemoteL0  *ltx.FileInfo
	RemoteSum ltx.Checksum

	Local ltx.TXID // Litestream's local position (Local.TXID)
	// LocalSum is the checksum of Litestream's local file of RemoteL0's
	// name; LocalOK is false when there is no such file.
	LocalSum ltx.Checksum
	LocalOK  bool
	// LocalErr: Litestream's local state could not be read. It then proves
	// nothing; the marker may still.
	LocalErr error

	Marker    *Marker
	MarkerErr error
}

// Gather reads the evidence about the copy at dbPath against a replica
// whose highest TXID is remote (0: empty; Tip finds it, or a restore plan
// names it). Errors are the replica's; the local side's are in LocalErr.
func Gather(ctx context.Context, client litestream.ReplicaClient, dbPath, url string, remote ltx.TXID) (Evidence, error) {
	l, lerr := ReadLocal(dbPath)
	e := Evidence{URL: url, Remote: remote, Local: l.TXID, LocalErr: lerr, Marker: l.Marker, MarkerErr: l.MarkerErr}
	if remote == 0 {
		return e, nil
	}
	l0, sum, err := L0At(ctx, client, remote)
	if err != nil {
		return e, err
	}
	e.RemoteL0, e.RemoteSum = l0, sum
	if l0 != nil && lerr == nil && e.Local >= remote {
		e.LocalSum, e.LocalOK, e.LocalErr = LocalFileChecksum(dbPath, l0.MinTXID, l0.MaxTXID)
	}
	return e, nil
}

// Proof is how a local copy is shown to descend from the replica.
type Proof int

const (
	Unproven Proof = iota
	ByEmpty        // the replica is empty: there is nothing to descend from
	ByLocal        // Litestream's local state holds the replica's file at its position
	ByMarker       // the restore marker holds it: restored at exactly that position
)

// Prove applies the lineage rule. A copy descends from the replica when
//  1. the replica is empty, or
//  2. Litestream's local state holds the very file that brought the
//     replica to its position (same name, same file checksum: the same
//     sidecar wrote it, or fetched it when it started), so the copy is at
//     or past that point of that history, or
//  3. the restore marker names this replica and exactly its position, with
//     the same file there (init restored it, and nobody has written since).
//
// Positions alone are not proof: two writers restored from one position
// number their next transactions alike, so a copy "ahead" by number may
// hold another history at the same numbers (remote.go). Anything else is
// Unproven; what each side does then is its own: the sidecar refuses to
// replicate, restore moves the copy aside and restores.
func (e Evidence) Prove() Proof {
	m := e.Marker
	switch {
	case e.Remote == 0:
		return ByEmpty
	case e.LocalOK && e.Local >= e.Remote && e.LocalSum == e.RemoteSum && e.RemoteSum != 0:
		return ByLocal
	case m != nil && m.ReplicaURL == e.URL && m.Outcome != OutcomeNew && ltx.TXID(m.TXID) == e.Remote && m.MatchesL0(e.RemoteSum):
		return ByMarker
	}
	return Unproven
}
