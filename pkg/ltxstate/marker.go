package ltxstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/superfly/ltx"
)

// Marker is what the init container leaves beside the database for the
// sidecar: which replica it restored from, to which position, and how it
// went. The sidecar's lineage guard and its restore metrics read it. The
// sidecar writes one itself, with OutcomePresent, before it moves aside a
// history its database goes on from: the position it proved the database
// holds, which the move's removal of Litestream's local state would
// otherwise leave unproven (pkg/replicate, markWentOn).
type Marker struct {
	ReplicaURL string    `json:"replica_url"`
	TXID       uint64    `json:"txid"` // position restored; 0 when the database is new
	Outcome    string    `json:"outcome"`
	Duration   float64   `json:"duration_seconds"`
	Bytes      int64     `json:"bytes"`
	Time       time.Time `json:"time"`
	// Added by the restore command; readers must not require them.
	PositionTime time.Time `json:"position_time,omitzero"`     // when the restored position was written to the replica
	Downloaded   int64     `json:"downloaded_bytes,omitempty"` // bytes read from the replica
	MovedAside   string    `json:"moved_aside,omitempty"`      // where a stale local copy was moved
	// L0Checksum is the file checksum (ltx.Checksum, hex) of the replica's
	// L0 file ending at TXID, when there was one: the sidecar's lineage
	// guard compares it with the replica's (remote.go), so that the same
	// position number in another writer's history is not taken for this one.
	L0Checksum string `json:"l0_file_checksum,omitempty"`
	// L0File is that file's name (<min>-<max>.ltx), so that a later
	// restore can ask for its trailer before the listing names it.
	L0File string `json:"l0_file,omitempty"`
}

// MatchesL0 reports whether the marker's L0Checksum is sum. A marker
// without one (written by an older restore) matches on its position alone.
func (m Marker) MatchesL0(sum ltx.Checksum) bool {
	return m.L0Checksum == "" || m.L0Checksum == sum.String()
}

// Outcomes recorded in a Marker.
const (
	OutcomeRestored = "restored"
	OutcomePresent  = "present"
	OutcomeNew      = "new"
)

// WriteMarker writes m atomically (temp file, fsync, rename).
func WriteMarker(dbPath string, m Marker) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	p := MarkerPath(dbPath)
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write restore marker: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write restore marker: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write restore marker: %w", err)
	}
	return nil
}

// ReadMarker reads the marker of dbPath; os.ErrNotExist when there is none.
func ReadMarker(dbPath string) (Marker, error) {
	var m Marker
	b, err := os.ReadFile(MarkerPath(dbPath))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("restore marker %s: %w", MarkerPath(dbPath), err)
	}
	return m, nil
}
