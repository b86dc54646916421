package bucket_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// history is a replica prefix's level objects: L0 1..3, an L1 compaction
// of them and a snapshot, which alone would read as a complete history at
// position 3 (or 1).
var history = []string{
	"0000/0000000000000001-0000000000000001.ltx",
	"0000/0000000000000002-0000000000000002.ltx",
	"0000/0000000000000003-0000000000000003.ltx",
	"0001/0000000000000001-0000000000000003.ltx",
	"0009/0000000000000001-0000000000000001.ltx",
}

// TestMoveLevelsInterrupted: a move stopped after any number of deletes
// must never leave the prefix looking like a backup (Preflight reports it
// as a move, which restore refuses), and FinishMove must complete it with
// nothing lost at the destination.
func TestMoveLevelsInterrupted(t *testing.T) {
	m := minioWith(t, "move")
	ctx := context.Background()
	// Every cut, from before the first delete to before the move
	// object's own: the originals are deleted one by one, then the object.
	for allow := 0; allow <= len(history); allow++ {
		prefix := "p" + string(rune('a'+allow))
		whole := bucket.NewStore(m.Client(), "move", prefix)
		for _, k := range append(history, "lock.json") {
			put(t, whole, prefix+"/"+k, k)
		}
		cut := bucket.NewStore(m.ClientCutAfterDeletes(allow), "move", prefix)
		to := prefix + "/history/20260101T000000Z"
		_, merr := cut.MoveLevels(ctx, to, false)
		if merr == nil {
			t.Fatalf("cut after %d deletes: the move did not stop", allow)
		}
		c, err := whole.Preflight(ctx, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if c.Moving != "s3://move/"+to || c.Handover() != "" {
			t.Errorf("cut after %d deletes: Preflight reports Moving %q, handover %q; want %q and none (left: %v)", allow, c.Moving, c.Handover(), to, keys(t, whole, prefix+"/"))
		}
		got, err := whole.FinishMove(ctx)
		if err != nil || got != to {
			t.Fatalf("cut after %d deletes: FinishMove = %q, %v; want %q", allow, got, err, to)
		}
		if left := keys(t, whole, prefix+"/"); !onlyHistory(left) {
			t.Errorf("cut after %d deletes: left in the prefix after FinishMove: %v", allow, left)
		}
		if moved := keys(t, whole, to+"/"); strings.Join(moved, " ") != strings.Join(history, " ") {
			t.Errorf("cut after %d deletes: at the destination %v, want %v", allow, moved, history)
		}
		for _, k := range history {
			if b := get(t, whole, to+"/"+k); b != k {
				t.Errorf("cut after %d deletes: %s holds %q", allow, k, b)
			}
		}
		c, err = whole.Preflight(ctx, slog.New(slog.DiscardHandler))
		if err != nil || c.Moving != "" || c.LTX {
			t.Errorf("cut after %d deletes: after FinishMove Preflight = %+v, %v; want no move and no LTX", allow, c, err)
		}
		if again, err := whole.FinishMove(ctx); err != nil || again != "" {
			t.Errorf("FinishMove with no move pending = %q, %v", again, err)
		}
	}
}

// TestMoveLevelsWhole: an uninterrupted move leaves no move object.
func TestMoveLevelsWhole(t *testing.T) {
	m := minioWith(t, "move")
	ctx := context.Background()
	s := bucket.NewStore(m.Client(), "move", "p")
	for _, k := range history {
		put(t, s, "p/"+k, k)
	}
	n, err := s.MoveLevels(ctx, "p/history/x", false)
	if err != nil || n != len(history) {
		t.Fatalf("MoveLevels = %d, %v", n, err)
	}
	if left := keys(t, s, "p/"); !onlyHistory(left) {
		t.Errorf("left in the prefix: %v", left)
	}
	if dest, err := s.PendingMove(ctx); err != nil || dest != "" {
		t.Errorf("PendingMove after a whole move = %q, %v", dest, err)
	}
	c, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
	if err != nil || c.Previous != "" || c.Handover() != "" || c.KeptHistory != "s3://move/p/history/x" {
		t.Errorf("after a move that is not the latest, Preflight = %+v, %v; want the kept history and no handover", c, err)
	}
}

// TestMoveLevelsLatest: a move of the history the database goes on from
// names it the latest backup from the moment its copies are whole, through
// every cut of the deletes and after the move, until ClearPrevious; beside
// live levels (the new history's snapshot) the note is stale and ignored.
func TestMoveLevelsLatest(t *testing.T) {
	m := minioWith(t, "move")
	ctx := context.Background()
	preflight := func(s *bucket.Store) bucket.Contents {
		t.Helper()
		c, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for allow := 0; allow <= len(history)+1; allow++ {
		prefix := "p" + string(rune('a'+allow))
		to := prefix + "/history/20260101T000000Z"
		want := "s3://move/" + to
		whole := bucket.NewStore(m.Client(), "move", prefix)
		for _, k := range history {
			put(t, whole, prefix+"/"+k, k)
		}
		cut := bucket.NewStore(m.ClientCutAfterDeletes(allow), "move", prefix)
		_, merr := cut.MoveLevels(ctx, to, true)
		if (merr == nil) != (allow > len(history)) {
			t.Fatalf("cut after %d deletes: MoveLevels = %v", allow, merr)
		}
		if c := preflight(whole); c.Handover() != want || c.Previous != want {
			t.Errorf("cut after %d deletes: handover %q, previous %q; want %q (contents %+v)", allow, c.Handover(), c.Previous, want, c)
		}
		if _, err := whole.FinishMove(ctx); err != nil {
			t.Fatal(err)
		}
		if c := preflight(whole); c.Handover() != want || !c.Empty() || c.Moving != "" {
			t.Errorf("cut after %d deletes, then finished: handover %q (contents %+v); want %q", allow, c.Handover(), c, want)
		}
		put(t, whole, prefix+"/0000/0000000000000001-0000000000000001.ltx", "new snapshot")
		if c := preflight(whole); c.Handover() != "" {
			t.Errorf("cut after %d deletes: with the new history's snapshot in the levels, handover %q", allow, c.Handover())
		}
		if err := whole.ClearPrevious(ctx); err != nil {
			t.Fatal(err)
		}
		if prev, err := whole.Previous(ctx); err != nil || prev != "" {
			t.Errorf("cut after %d deletes: previous %q, %v after ClearPrevious", allow, prev, err)
		}
	}
	if err := bucket.NewStore(m.Client(), "move", "none").ClearPrevious(ctx); err != nil {
		t.Errorf("ClearPrevious with nothing to clear: %v", err)
	}
}

// onlyHistory reports whether keys (relative to a prefix) are all under
// history/, where the moved copies live.
func onlyHistory(keys []string) bool {
	for _, k := range keys {
		if !strings.HasPrefix(k, ltxstate.HistoryDir+"/") && k != "lock.json" {
			return false
		}
	}
	return true
}

// minioWith starts a MinIO holding the bucket name.
func minioWith(t *testing.T, name string) *testenv.MinIO {
	t.Helper()
	m := testenv.NewMinIO(t)
	if err := m.MakeBucket(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return m
}

func put(t *testing.T, s *bucket.Store, key, body string) {
	t.Helper()
	if _, err := bucket.RawClient(s).PutObject(context.Background(), s.Bucket, key, bytes.NewReader([]byte(body)), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, s *bucket.Store, key string) string {
	t.Helper()
	obj, err := bucket.RawClient(s).GetObject(context.Background(), s.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return string(b)
}

// keys lists the keys under prefix, relative to it, sorted.
func keys(t *testing.T, s *bucket.Store, prefix string) []string {
	t.Helper()
	var out []string
	for obj := range bucket.RawClient(s).ListObjects(context.Background(), s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out = append(out, strings.TrimPrefix(obj.Key, prefix))
	}
	sort.Strings(out)
	return out
}

// TestLocalPrevious: a file:// replica directory's history moves by one
// rename, with the previous file written before it: the directory then
// reads as a handover to that history, until ClearLocalPrevious; a note
// that names no history is refused, not ignored.
func TestLocalPrevious(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, ltxstate.HistoryDir, "20260101T000000Z")
	if err := os.MkdirAll(filepath.Join(dest, ltxstate.FileLTXDir, "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := bucket.MarkLocalPrevious(dir, dest); err != nil {
		t.Fatal(err)
	}
	c, err := bucket.LocalContents(dir)
	if err != nil || c.Handover() != dest || !c.Empty() {
		t.Fatalf("after the move: handover %q, contents %+v, %v; want %q", c.Handover(), c, err, dest)
	}
	if err := os.MkdirAll(filepath.Join(dir, ltxstate.FileLTXDir, "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := bucket.ClearLocalPrevious(dir); err != nil {
		t.Fatal(err)
	}
	if c, err := bucket.LocalContents(dir); err != nil || c.Previous != "" || c.Handover() != "" {
		t.Fatalf("after ClearLocalPrevious: %+v, %v", c, err)
	}
	if err := bucket.ClearLocalPrevious(dir); err != nil {
		t.Errorf("ClearLocalPrevious with nothing to clear: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ltxstate.HistoryPrevious), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bucket.LocalContents(dir); !errors.Is(err, bucket.ErrBadMove) {
		t.Errorf("a note naming nothing: %v, want ErrBadMove", err)
	}
}
