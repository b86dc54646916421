package ltxstate_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	_ "github.com/mattn/go-sqlite3"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// replicateRows writes rows tagged tag to a new database and replicates
// each commit with the Litestream library to its own file:// replica,
// one TXID per commit. It returns the database path and the ltxstate.
func replicateRows(t *testing.T, tag string, rows int) (string, *file.ReplicaClient) {
	t.Helper()
	path, sqldb, db, client := openReplicated(t)
	for i := range rows {
		insertAndShip(t, sqldb, db, fmt.Sprintf("%s-%d-%d", tag, i, time.Now().UnixNano()))
	}
	return path, client
}

// openReplicated opens a new WAL database with a table t and a Litestream
// DB shipping it to its own file:// replica only when told (no monitor);
// both are closed when t ends.
func openReplicated(t *testing.T) (string, *sql.DB, *litestream.DB, *file.ReplicaClient) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.db")
	sqldb, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqldb.Close() })
	if _, err := sqldb.Exec(`CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	client := file.NewReplicaClient(filepath.Join(dir, "replica"))
	db := litestream.NewDB(path)
	db.Replica = litestream.NewReplicaWithClient(db, client)
	db.Replica.MonitorEnabled = false
	db.MonitorInterval = 0
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	// Registered after sqldb's, so it runs first: Litestream lets go of
	// the database before the app's connection closes.
	t.Cleanup(func() { db.Close(context.Background()) })
	return path, sqldb, db, client
}

// insertAndShip commits one row and ships it: one TXID.
func insertAndShip(t *testing.T, sqldb *sql.DB, db *litestream.DB, v string) {
	t.Helper()
	ctx := context.Background()
	if _, err := sqldb.Exec(`INSERT INTO t (v) VALUES (?)`, v); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Replica.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// Two databases replicated the same number of times share TXIDs, not
// files: the file checksums tell their histories apart, and each side's
// local copy of its newest file is its replica's.
func TestFileChecksums(t *testing.T) {
	ctx := context.Background()
	pathA, replA := replicateRows(t, "a", 5)
	pathB, replB := replicateRows(t, "b", 5)
	tipA, err := ltxstate.Tip(ctx, replA)
	if err != nil || tipA == nil {
		t.Fatalf("Tip = %v, %v", tipA, err)
	}
	tipB, err := ltxstate.Tip(ctx, replB)
	if err != nil || tipB == nil || tipB.MaxTXID != tipA.MaxTXID {
		t.Fatalf("Tip(B) = %v, %v; want the same position as A's %s", tipB, err, tipA.MaxTXID)
	}

	remote, err := ltxstate.RemoteFileChecksum(ctx, replA, tipA)
	if err != nil || remote == 0 {
		t.Fatalf("RemoteFileChecksum = %s, %v; want a checksum", remote, err)
	}
	local, ok, err := ltxstate.LocalFileChecksum(pathA, tipA.MinTXID, tipA.MaxTXID)
	if err != nil || !ok || local != remote {
		t.Fatalf("LocalFileChecksum(A) = %s, %t, %v; want the replica's %s", local, ok, err, remote)
	}
	other, ok, err := ltxstate.LocalFileChecksum(pathB, tipA.MinTXID, tipA.MaxTXID)
	if err != nil || !ok {
		t.Fatalf("LocalFileChecksum(B) = %t, %v; B reached that position too", ok, err)
	}
	if other == remote {
		t.Fatalf("B's file at %s has A's checksum %s", tipA.MaxTXID, remote)
	}
	if _, ok, err := ltxstate.LocalFileChecksum(pathA, tipA.MaxTXID+1, tipA.MaxTXID+1); err != nil || ok {
		t.Fatalf("LocalFileChecksum beyond the local state = %t, %v; want not ok", ok, err)
	}
	if _, ok, err := ltxstate.LocalFileChecksum(filepath.Join(t.TempDir(), "none.db"), 1, 1); err != nil || ok {
		t.Fatalf("LocalFileChecksum without local state = %t, %v; want not ok", ok, err)
	}
	// The lineage proof both modes use: A's own local state proves A's
	// replica; B's, at the same position number, does not.
	if e, err := ltxstate.Gather(ctx, replA, pathA, "file://a", tipA.MaxTXID); err != nil || e.Prove() != ltxstate.ByLocal {
		t.Fatalf("Gather(A, A's replica) = %+v, %v; want proven by local state", e, err)
	}
	if e, err := ltxstate.Gather(ctx, replA, pathB, "file://a", tipA.MaxTXID); err != nil || e.Prove() != ltxstate.Unproven || !e.LocalOK {
		t.Fatalf("Gather(B, A's replica) = %+v, %v; want unproven, with B's file compared", e, err)
	}
	if l, err := ltxstate.ReadLocal(pathA); err != nil || l.TXID != tipA.MaxTXID || l.Position("file://a") != tipA.MaxTXID {
		t.Fatalf("ReadLocal(A) = %+v, %v; want position %s", l, err, tipA.MaxTXID)
	}
	if tip, err := ltxstate.Tip(ctx, file.NewReplicaClient(t.TempDir())); err != nil || tip != nil {
		t.Fatalf("Tip of an empty replica = %v, %v; want nil", tip, err)
	}
}
