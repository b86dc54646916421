package replicate

import (
	"errors"
	"strings"
	"testing"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/replica"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// The lineage rule, case by case (package doc). Internal test: the rule is
// a pure function of what the sidecar reads at start.
func TestLineageRule(t *testing.T) {
	const url = "s3://b/p"
	mk := func(u, outcome string, txid uint64) *replica.Marker {
		return &replica.Marker{ReplicaURL: u, Outcome: outcome, TXID: txid}
	}
	sum := func(m *replica.Marker, s ltx.Checksum) *replica.Marker { m.L0Checksum = s.String(); return m }
	const ours, theirs = ltx.Checksum(0x8000000000000abc), ltx.Checksum(0x8000000000000def)
	tests := []struct {
		name   string
		l      lineage
		refuse bool
	}{
		{"empty replica, no marker", lineage{url: url}, false},
		{"empty replica, marker new", lineage{url: url, marker: mk(url, replica.OutcomeNew, 0)}, false},
		{"fresh DB on a prefix with data (init skipped)", lineage{url: url, remote: 7}, true},
		{"sidecar restart: local state at the replica", lineage{url: url, remote: 7, local: 7, remoteSum: ours, localSum: ours, localOK: true}, false},
		{"sidecar restart, app wrote more: local ahead", lineage{url: url, remote: 7, local: 9, remoteSum: ours, localSum: ours, localOK: true}, false},
		{"local ahead by number, another writer's content at the replica's position", lineage{url: url, remote: 7, local: 9, remoteSum: theirs, localSum: ours, localOK: true}, true},
		{"local ahead by number, no local file at the replica's position", lineage{url: url, remote: 7, local: 9, remoteSum: theirs}, true},
		{"local ahead, other content, but restored at exactly this position", lineage{url: url, remote: 7, local: 9, remoteSum: theirs, localSum: ours, localOK: true, marker: sum(mk(url, replica.OutcomeRestored, 7), theirs)}, false},
		{"local state behind, no marker (another writer moved on)", lineage{url: url, remote: 7, local: 5}, true},
		{"restored at the replica position", lineage{url: url, remote: 7, remoteSum: ours, marker: sum(mk(url, replica.OutcomeRestored, 7), ours)}, false},
		{"restored at the replica position, marker without checksum (older restore)", lineage{url: url, remote: 7, remoteSum: ours, marker: mk(url, replica.OutcomeRestored, 7)}, false},
		{"restored at this position number, but another writer's history is there now", lineage{url: url, remote: 7, remoteSum: theirs, marker: sum(mk(url, replica.OutcomeRestored, 7), ours)}, true},
		{"restored above the replica (its history was replaced since)", lineage{url: url, remote: 3, remoteSum: theirs, marker: sum(mk(url, replica.OutcomeRestored, 7), ours)}, true},
		{"restored, then the replica moved on (held behind, not refused)", lineage{url: url, remote: 9, marker: mk(url, replica.OutcomeRestored, 7)}, true},
		{"restored, restarted after replicating (marker below, local at replica)", lineage{url: url, remote: 9, local: 9, remoteSum: ours, localSum: ours, localOK: true, marker: mk(url, replica.OutcomeRestored, 7)}, false},
		{"marker for another prefix", lineage{url: url, remote: 7, marker: mk("s3://b/other", replica.OutcomeRestored, 7)}, true},
		{"marker new but the prefix now holds data", lineage{url: url, remote: 3, marker: mk(url, replica.OutcomeNew, 0)}, true},
		{"restored and replicated, then the replica moved on (local state behind)", lineage{url: url, remote: 9, local: 8, marker: mk(url, replica.OutcomeRestored, 7)}, true},
		{"present at the replica position", lineage{url: url, remote: 4, marker: mk(url, replica.OutcomePresent, 4)}, false},
		{"unreadable marker", lineage{url: url, remote: 4, markErr: errors.New("bad json")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.l.check()
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
