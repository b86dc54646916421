package bucket_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
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
		whole := &bucket.Store{Client: m.Client(), Bucket: "move", Prefix: prefix}
		for _, k := range append(history, "lock.json") {
			put(t, whole, prefix+"/"+k, k)
		}
		cut := &bucket.Store{Client: m.ClientCutAfterDeletes(allow), Bucket: "move", Prefix: prefix}
		to := prefix + "/history/20260101T000000Z"
		_, merr := cut.MoveLevels(ctx, to)
		if merr == nil {
			t.Fatalf("cut after %d deletes: the move did not stop", allow)
		}
		c, err := whole.Preflight(ctx, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if c.Moving != to {
			t.Errorf("cut after %d deletes: Preflight reports Moving %q, want %q (left: %v)", allow, c.Moving, to, keys(t, whole, prefix+"/"))
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
	s := &bucket.Store{Client: m.Client(), Bucket: "move", Prefix: "p"}
	for _, k := range history {
		put(t, s, "p/"+k, k)
	}
	n, err := s.MoveLevels(ctx, "p/history/x")
	if err != nil || n != len(history) {
		t.Fatalf("MoveLevels = %d, %v", n, err)
	}
	if left := keys(t, s, "p/"); !onlyHistory(left) {
		t.Errorf("left in the prefix: %v", left)
	}
	if dest, err := s.PendingMove(ctx); err != nil || dest != "" {
		t.Errorf("PendingMove after a whole move = %q, %v", dest, err)
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
	if _, err := s.Client.PutObject(context.Background(), s.Bucket, key, bytes.NewReader([]byte(body)), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, s *bucket.Store, key string) string {
	t.Helper()
	obj, err := s.Client.GetObject(context.Background(), s.Bucket, key, minio.GetObjectOptions{})
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
	for obj := range s.Client.ListObjects(context.Background(), s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out = append(out, strings.TrimPrefix(obj.Key, prefix))
	}
	sort.Strings(out)
	return out
}
