package ltxstate_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// TimeFile's rule: the lowest level ending at the TXID; a snapshot only
// when nothing else ends there; never a file ending elsewhere.
func TestTimeFile(t *testing.T) {
	f := func(level int, min, max ltx.TXID) *ltx.FileInfo {
		return &ltx.FileInfo{Level: level, MinTXID: min, MaxTXID: max}
	}
	l0, l1, l2, snap := f(0, 4, 4), f(1, 1, 4), f(2, 1, 4), f(litestream.SnapshotLevel, 1, 4)
	for _, tc := range []struct {
		name  string
		files []*ltx.FileInfo
		want  *ltx.FileInfo
	}{
		{"level 0 before its compaction and the snapshot", []*ltx.FileInfo{snap, l2, l1, l0}, l0},
		{"level 1 once level 0 is retired", []*ltx.FileInfo{snap, l2, l1}, l1},
		{"level 2 before the snapshot", []*ltx.FileInfo{snap, l2}, l2},
		{"the snapshot when nothing else ends there", []*ltx.FileInfo{snap, f(1, 1, 3), f(0, 5, 5)}, snap},
		{"files ending elsewhere", []*ltx.FileInfo{f(1, 1, 3), f(0, 5, 5), f(litestream.SnapshotLevel, 1, 5)}, nil},
		{"nothing", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ltxstate.TimeFile(tc.files, 4); got != tc.want {
				t.Fatalf("TimeFile = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TXIDTime across Litestream's own compaction and a snapshot, on the
// files the library writes: the time of the newest TXID is when it
// shipped (its level-0 file's stamp) at every level, and the snapshot's
// own stamp only once no other file ends there.
func TestTXIDTimeAcrossCompaction(t *testing.T) {
	ctx := context.Background()
	_, sqldb, db, client := openReplicated(t)
	for i := range 3 {
		insertAndShip(t, sqldb, db, fmt.Sprint(i))
	}
	l0 := level(t, client, 0)
	tip := l0[len(l0)-1]
	shipped := stamp(t, client, tip)

	check := func(stage string, end *ltx.FileInfo, want time.Time) {
		t.Helper()
		got, err := ltxstate.TXIDTime(ctx, client, end)
		if err != nil {
			t.Fatalf("%s: TXIDTime: %v", stage, err)
		}
		if !got.Equal(want) {
			t.Fatalf("%s: TXIDTime = %s, want %s", stage, got.Format(ltxstate.TimeFormat), want.Format(ltxstate.TimeFormat))
		}
	}
	check("level 0", tip, shipped)
	check("level 0, an earlier TXID", l0[len(l0)-2], stamp(t, client, l0[len(l0)-2]))

	// Litestream stamps a snapshot when it takes it: a few milliseconds on,
	// its stamp is later than the shipping (stamps are whole milliseconds).
	time.Sleep(5 * time.Millisecond)
	l1, err := litestream.NewCompactor(client, slog.New(slog.DiscardHandler)).Compact(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if l1.MaxTXID != tip.MaxTXID {
		t.Fatalf("compaction wrote %s-%s, want it to end at %s", l1.MinTXID, l1.MaxTXID, tip.MaxTXID)
	}
	check("level 1", l1, shipped)

	snap, err := db.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snapAt := stamp(t, client, snap)
	if snap.MaxTXID != tip.MaxTXID || !snapAt.After(shipped) {
		t.Fatalf("snapshot %s-%s stamped %s, want one ending at %s stamped after %s", snap.MinTXID, snap.MaxTXID, snapAt, tip.MaxTXID, shipped)
	}
	check("snapshot beside level 0", snap, shipped)
	if err := client.DeleteLTXFiles(ctx, l0); err != nil {
		t.Fatal(err)
	}
	check("snapshot beside level 1", snap, shipped)
	if err := client.DeleteLTXFiles(ctx, []*ltx.FileInfo{l1}); err != nil {
		t.Fatal(err)
	}
	check("snapshot alone", snap, snapAt)
}

// level lists a level of client, each file with its level set.
func level(t *testing.T, client litestream.ReplicaClient, n int) []*ltx.FileInfo {
	t.Helper()
	itr, err := client.LTXFiles(context.Background(), n, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer itr.Close()
	var out []*ltx.FileInfo
	for itr.Next() {
		info := *itr.Item()
		info.Level = n
		out = append(out, &info)
	}
	if err := itr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stamp decodes the header of a replica file, whole, as a restore reads it.
func stamp(t *testing.T, client litestream.ReplicaClient, info *ltx.FileInfo) time.Time {
	t.Helper()
	rc, err := client.OpenLTXFile(context.Background(), info.Level, info.MinTXID, info.MaxTXID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dec := ltx.NewDecoder(rc)
	if err := dec.DecodeHeader(); err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(dec.Header().Timestamp).UTC()
}
