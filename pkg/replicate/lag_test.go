package replicate

import (
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // a real SQLite writing a real WAL, as the app does
	dto "github.com/prometheus/client_model/go"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// The lag is the age of the oldest local LTX file above the replica, so a
// replica that keeps up under steady writes shows a small lag, not the time
// since it was last seen exactly caught up.
func TestLagFromOldestUnreplicatedFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for txid, age := range map[ltx.TXID]time.Duration{5: 40 * time.Second, 6: 3 * time.Second, 7: time.Second} {
		p := filepath.Join(dir, ltx.FormatFilename(txid, txid))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	st := &state{metrics: telemetry.NewMetrics().Series}
	c := newLagClock(filepath.Join(dir, "no-such-wal"), dir)

	// Replica at 5: the oldest commit not in it is 6, written 3 s ago.
	lag := st.observe(7, 5, c.oldest(7, 5, now), now)
	if lag < 2*time.Second || lag > 4*time.Second {
		t.Fatalf("lag with the replica at 5 = %s, want about 3s", lag)
	}
	// The sidecar saw it behind since long ago, but the replica advanced.
	lag = st.observe(7, 6, c.oldest(7, 6, now), now)
	if lag > 2*time.Second {
		t.Fatalf("lag with the replica at 6 = %s, want about 1s", lag)
	}
	if lag = st.observe(7, 7, c.oldest(7, 7, now), now); lag != 0 {
		t.Fatalf("caught up: lag %s, want 0", lag)
	}
	// Unknown file times: the lag runs from when it was first seen behind.
	st.observe(8, 7, time.Time{}, now)
	if lag = st.observe(8, 7, time.Time{}, now.Add(10*time.Second)); lag != 10*time.Second {
		t.Fatalf("fallback lag %s, want 10s", lag)
	}
}

// Commits still in the WAL count: with every L0 file in the replica, a
// commit the app made but Litestream has not converted yet is pending, and
// its age grows until Litestream converts it and the replica holds it.
// The old gauge read 0 here (bench: 0.00 s while the real lag was 0.5 s).
func TestLagCountsCommitsStillInTheWAL(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	l0 := filepath.Join(dir, "ltx", "0")
	if err := os.MkdirAll(l0, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", dbPath+"?_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection: closing it would checkpoint the WAL away
	mustExec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
	mustExec(t, db, `INSERT INTO t (v) VALUES ('a')`)

	st := &state{metrics: telemetry.NewMetrics().Series}
	c := newLagClock(dbPath+"-wal", l0)
	poll := func(local, remote ltx.TXID, now time.Time) time.Duration {
		t.Helper()
		return st.observe(local, remote, c.oldest(local, remote, now), now)
	}

	// Litestream converted the whole WAL into L0 file 1; the replica holds it.
	writeL0(t, l0, 1, dbPath+"-wal", time.Now())
	if lag := poll(1, 1, time.Now()); lag != 0 {
		t.Fatalf("WAL fully converted and replicated: lag %s, want 0", lag)
	}

	// The app commits; Litestream has not run yet.
	before := time.Now()
	mustExec(t, db, `INSERT INTO t (v) VALUES ('b')`)
	after := time.Now()
	first := time.Now()
	lag := poll(1, 1, first)
	if lag < first.Sub(after) || lag > first.Sub(before)+10*time.Millisecond {
		t.Fatalf("a commit in the WAL: lag %s, want the commit's age (between %s and %s)", lag, first.Sub(after), first.Sub(before))
	}
	// It stays pending (the store is down, Litestream stalled): the lag grows
	// with the time, it is not reset by each poll.
	later := first.Add(30 * time.Second)
	if lag := poll(1, 1, later); lag < 30*time.Second {
		t.Fatalf("the same commit 30 s later: lag %s, want at least 30s", lag)
	}
	if got := testGauge(st); got < 30 {
		t.Fatalf("litestream_sidecar_replica_lag_seconds = %v, want at least 30", got)
	}

	// Litestream converts it into L0 file 2, written long after the commit;
	// the replica is still at 1. The lag keeps the commit's time, not the file's.
	writeL0(t, l0, 2, dbPath+"-wal", later)
	if lag := poll(2, 1, later.Add(time.Second)); lag < 31*time.Second {
		t.Fatalf("the commit now in an L0 file not uploaded: lag %s, want at least 31s", lag)
	}
	// Uploaded: caught up.
	if lag := poll(2, 2, later.Add(2*time.Second)); lag != 0 {
		t.Fatalf("caught up: lag %s, want 0", lag)
	}
	if got := testGauge(st); got != 0 {
		t.Fatalf("caught up: gauge %v, want 0", got)
	}

	// A checkpoint truncates the WAL: nothing pending although the newest
	// L0 file's salts no longer match. The next commit starts a new WAL
	// generation at its first frame, and is pending.
	mustExec(t, db, `PRAGMA wal_checkpoint(TRUNCATE)`)
	if lag := poll(2, 2, time.Now()); lag != 0 {
		t.Fatalf("WAL truncated by a checkpoint: lag %s, want 0", lag)
	}
	mustExec(t, db, `INSERT INTO t (v) VALUES ('c')`)
	now := time.Now()
	if lag := poll(2, 2, now.Add(5*time.Second)); lag < 5*time.Second {
		t.Fatalf("a commit in a restarted WAL, 5 s later: lag %s, want at least 5s", lag)
	}

	// A transaction that rolled back leaves frames with the current salts
	// but no commit frame: not pending.
	writeL0(t, l0, 3, dbPath+"-wal", time.Now())
	poll(3, 3, time.Now())
	mustExec(t, db, `PRAGMA cache_size = 1`) // spill the transaction's pages into the WAL
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, string(make([]byte, 2000))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dbPath + "-wal"); err != nil || fi.Size() < 100_000 {
		t.Fatalf("the rolled-back transaction did not spill into the WAL (size %v, %v); the case is not exercised", fi.Size(), err)
	}
	if lag := poll(3, 3, time.Now().Add(5*time.Second)); lag != 0 {
		t.Fatalf("only frames of a rolled-back transaction beyond the L0 file: lag %s, want 0", lag)
	}
}

// Several pending commits are timed from the earliest moment the oldest can
// have been made: the last poll that saw the WAL converted, or Litestream's
// read of the WAL for its newest L0 file. The gauge may overstate by up to
// a poll interval, never understate.
func TestLagBoundsForSeveralCommits(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	l0 := filepath.Join(dir, "ltx", "0")
	if err := os.MkdirAll(l0, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", dbPath+"?_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
	st := &state{metrics: telemetry.NewMetrics().Series}
	c := newLagClock(dbPath+"-wal", l0)
	poll := func(local, remote ltx.TXID, now time.Time) time.Duration {
		t.Helper()
		return st.observe(local, remote, c.oldest(local, remote, now), now)
	}

	// Litestream read the WAL at t0 for L0 file 1; two commits follow.
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	writeL0(t, l0, 1, dbPath+"-wal", t0)
	mustExec(t, db, `INSERT INTO t (v) VALUES ('a')`)
	mustExec(t, db, `INSERT INTO t (v) VALUES ('b')`)
	now := time.Now()
	if lag := poll(1, 1, now); lag != now.Sub(t0) {
		t.Fatalf("two commits after Litestream's read at t0: lag %s, want %s (from t0)", lag, now.Sub(t0))
	}

	// Converted and uploaded; a poll sees nothing pending at p0.
	writeL0(t, l0, 2, dbPath+"-wal", time.Now())
	p0 := time.Now()
	if lag := poll(2, 2, p0); lag != 0 {
		t.Fatalf("caught up: lag %s", lag)
	}
	mustExec(t, db, `INSERT INTO t (v) VALUES ('c')`)
	mustExec(t, db, `INSERT INTO t (v) VALUES ('d')`)
	if lag := poll(2, 2, p0.Add(10*time.Second)); lag != 10*time.Second {
		t.Fatalf("two commits after the poll at p0, 10 s later: lag %s, want 10s (from p0)", lag)
	}

	// Frames no poll saw: converted into L0 file 3 between two polls (file
	// written later still); the replica is behind. They count from p1, the
	// last poll before them.
	writeL0(t, l0, 3, dbPath+"-wal", time.Now())
	p1 := time.Now()
	poll(3, 3, p1)
	mustExec(t, db, `INSERT INTO t (v) VALUES ('e')`)
	writeL0(t, l0, 4, dbPath+"-wal", p1.Add(20*time.Second))
	if lag := poll(4, 3, p1.Add(30*time.Second)); lag != 30*time.Second {
		t.Fatalf("an L0 file no poll saw as WAL frames, 30 s after the last poll: lag %s, want 30s", lag)
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// writeL0 writes the header of an L0 file as Litestream would after
// converting the whole WAL: it ends at the WAL's current size, with its
// salts. Only the header matters to lagClock.
func writeL0(t *testing.T, dir string, txid ltx.TXID, walPath string, mtime time.Time) {
	t.Helper()
	wal, err := os.ReadFile(walPath)
	if err != nil {
		t.Fatal(err)
	}
	h := ltx.Header{
		Version: ltx.Version, Flags: ltx.HeaderFlagNoChecksum, PageSize: 4096, Commit: 1,
		MinTXID: txid, MaxTXID: txid, Timestamp: mtime.UnixMilli(),
		WALOffset: walHeaderSize, WALSize: int64(len(wal)) - walHeaderSize,
		WALSalt1: binary.BigEndian.Uint32(wal[16:]), WALSalt2: binary.BigEndian.Uint32(wal[20:]),
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ltx.FormatFilename(txid, txid))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// testGauge reads litestream_sidecar_replica_lag_seconds as a scrape would.
func testGauge(st *state) float64 {
	var m dto.Metric
	if err := st.metrics.ReplicaLag.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
