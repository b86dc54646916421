package replicate

import (
	"errors"
	"strings"
	"testing"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// The lineage rule, case by case (package doc). Internal test: the rule is
// a pure function of what the sidecar reads at start.
func TestLineageRule(t *testing.T) {
	const url = "s3://b/p"
	mk := func(u, outcome string, txid uint64) *ltxstate.Marker {
		return &ltxstate.Marker{ReplicaURL: u, Outcome: outcome, TXID: txid}
	}
	sum := func(m *ltxstate.Marker, s ltx.Checksum) *ltxstate.Marker { m.L0Checksum = s.String(); return m }
	const ours, theirs = ltx.Checksum(0x8000000000000abc), ltx.Checksum(0x8000000000000def)
	tests := []struct {
		name   string
		l      ltxstate.Evidence
		refuse bool
	}{
		{"empty replica, no marker", ltxstate.Evidence{URL: url}, false},
		{"empty replica, marker new", ltxstate.Evidence{URL: url, Marker: mk(url, ltxstate.OutcomeNew, 0)}, false},
		{"fresh DB on a prefix with data (init skipped)", ltxstate.Evidence{URL: url, Remote: 7}, true},
		{"sidecar restart: local state at the replica", ltxstate.Evidence{URL: url, Remote: 7, Local: 7, RemoteSum: ours, LocalSum: ours, LocalOK: true}, false},
		{"sidecar restart, app wrote more: local ahead", ltxstate.Evidence{URL: url, Remote: 7, Local: 9, RemoteSum: ours, LocalSum: ours, LocalOK: true}, false},
		{"local ahead by number, another writer's content at the replica's position", ltxstate.Evidence{URL: url, Remote: 7, Local: 9, RemoteSum: theirs, LocalSum: ours, LocalOK: true}, true},
		{"local ahead by number, no local file at the replica's position", ltxstate.Evidence{URL: url, Remote: 7, Local: 9, RemoteSum: theirs}, true},
		{"local ahead, other content, but restored at exactly this position", ltxstate.Evidence{URL: url, Remote: 7, Local: 9, RemoteSum: theirs, LocalSum: ours, LocalOK: true, Marker: sum(mk(url, ltxstate.OutcomeRestored, 7), theirs)}, false},
		{"local state behind, no marker (another writer moved on)", ltxstate.Evidence{URL: url, Remote: 7, Local: 5}, true},
		{"restored at the replica position", ltxstate.Evidence{URL: url, Remote: 7, RemoteSum: ours, Marker: sum(mk(url, ltxstate.OutcomeRestored, 7), ours)}, false},
		{"restored at the replica position, marker without checksum (older restore)", ltxstate.Evidence{URL: url, Remote: 7, RemoteSum: ours, Marker: mk(url, ltxstate.OutcomeRestored, 7)}, false},
		{"restored at this position number, but another writer's history is there now", ltxstate.Evidence{URL: url, Remote: 7, RemoteSum: theirs, Marker: sum(mk(url, ltxstate.OutcomeRestored, 7), ours)}, true},
		{"restored above the replica (its history was replaced since)", ltxstate.Evidence{URL: url, Remote: 3, RemoteSum: theirs, Marker: sum(mk(url, ltxstate.OutcomeRestored, 7), ours)}, true},
		{"restored, then the replica moved on (held behind, not refused)", ltxstate.Evidence{URL: url, Remote: 9, Marker: mk(url, ltxstate.OutcomeRestored, 7)}, true},
		{"restored, restarted after replicating (marker below, local at replica)", ltxstate.Evidence{URL: url, Remote: 9, Local: 9, RemoteSum: ours, LocalSum: ours, LocalOK: true, Marker: mk(url, ltxstate.OutcomeRestored, 7)}, false},
		{"marker for another prefix", ltxstate.Evidence{URL: url, Remote: 7, Marker: mk("s3://b/other", ltxstate.OutcomeRestored, 7)}, true},
		{"marker new but the prefix now holds data", ltxstate.Evidence{URL: url, Remote: 3, Marker: mk(url, ltxstate.OutcomeNew, 0)}, true},
		{"restored and replicated, then the replica moved on (local state behind)", ltxstate.Evidence{URL: url, Remote: 9, Local: 8, Marker: mk(url, ltxstate.OutcomeRestored, 7)}, true},
		{"present at the replica position", ltxstate.Evidence{URL: url, Remote: 4, Marker: mk(url, ltxstate.OutcomePresent, 4)}, false},
		{"unreadable marker", ltxstate.Evidence{URL: url, Remote: 4, MarkerErr: errors.New("bad json")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := check(tt.l)
			if (err != nil) != tt.refuse {
				t.Fatalf("check() = %v, want refuse=%v", err, tt.refuse)
			}
			if err != nil && (!errors.Is(err, ErrLineage) || sysexit.Code(err) != 65) {
				t.Fatalf("refusal %v: want ErrLineage and exit 65, got code %d", err, sysexit.Code(err))
			}
			// Only a copy restored from this history, never replicated
			// since, whose replica moved on, is merely behind.
			if behind := strings.Contains(tt.name, "held behind"); errors.Is(err, ErrBehind) != behind {
				t.Fatalf("check() = %v, want ErrBehind %v", err, behind)
			}
		})
	}
}
