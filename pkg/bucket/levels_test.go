package bucket_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/s3"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/internal/tlsenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// levelKeys are LTX files of levels 0, 1 and 9, one deeper in a level
// directory (Litestream's listing counts it: it reads the base name), and
// objects no level listing returns: another name, a directory 000a (no
// level), the lease, a kept history.
var levelKeys = []string{
	"p/0000/0000000000000003-0000000000000003.ltx",
	"p/0000/0000000000000004-0000000000000005.ltx",
	"p/0000/sub/0000000000000006-0000000000000006.ltx",
	"p/0001/0000000000000001-0000000000000004.ltx",
	"p/0009/0000000000000001-0000000000000002.ltx",
	"p/0000/notes.txt",
	"p/000a/0000000000000001-0000000000000001.ltx",
	"p/lock.json",
	"p/history/20260101T000000Z/0000/0000000000000001-0000000000000001.ltx",
}

// TestPreflightLevels: the preflight's one listing of <prefix>/000 holds
// every level's files exactly as Litestream's S3 client lists each level,
// so that the restore plan can read them instead of listing again.
func TestPreflightLevels(t *testing.T) {
	m := minioWith(t, "pre")
	ctx := context.Background()
	s := bucket.NewStore(m.Client(), "pre", "p")
	for _, k := range levelKeys {
		put(t, s, k, k) // sizes differ
	}
	c, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !c.LTX || len(c.Levels) != litestream.SnapshotLevel+1 {
		t.Fatalf("Preflight: LTX %t, %d levels listed", c.LTX, len(c.Levels))
	}
	tlsenv.Apply("") // as pkg/engine does: AWS_CA_BUNDLE breaks Litestream's S3 client
	client := s3.NewReplicaClient()
	client.AccessKeyID, client.SecretAccessKey = testenv.AccessKey, testenv.SecretKey
	client.Bucket, client.Path, client.Region = "pre", "p", "us-east-1"
	client.Endpoint, client.ForcePathStyle = m.Endpoint, true
	if err := client.Init(ctx); err != nil {
		t.Fatal(err)
	}
	total := 0
	for level := range litestream.SnapshotLevel + 1 {
		want, err := litestream.FindLTXFiles(ctx, client, level, false, func(*ltx.FileInfo) (bool, error) { return true, nil })
		if err != nil {
			t.Fatal(err)
		}
		got := c.Levels[level]
		if len(got) != len(want) {
			t.Fatalf("level %d: preflight listed %d files, Litestream %d", level, len(got), len(want))
		}
		for i := range want {
			if *got[i] != *want[i] {
				t.Errorf("level %d file %d: preflight %+v, Litestream %+v", level, i, *got[i], *want[i])
			}
		}
		total += len(want)
	}
	if total != 5 {
		t.Fatalf("Litestream lists %d files in all, the test expects 5", total)
	}
}

// TestPreflightLevelsFullPage: a first page that may not hold every file
// gives no levels (the plan lists them itself), and LTX files are still
// found past it.
func TestPreflightLevelsFullPage(t *testing.T) {
	m := minioWith(t, "pre")
	ctx := context.Background()
	s := bucket.NewStore(m.Client(), "pre", "p")
	for _, k := range []string{"p/0000/a", "p/0000/b", "p/0000/c", "p/0009/0000000000000001-0000000000000002.ltx"} {
		put(t, s, k, k)
	}
	for _, page := range []int{2, 3, 4} {
		restore := bucket.SetLevelsPage(page)
		c, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if !c.LTX || c.Levels != nil {
			t.Errorf("page of %d keys, 4 objects: LTX %t, levels %v; want LTX and no levels", page, c.LTX, c.Levels)
		}
	}
	restore := bucket.SetLevelsPage(5)
	defer restore()
	c, err := s.Preflight(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !c.LTX || c.Levels == nil || len(c.Levels[9]) != 1 {
		t.Errorf("page of 5 keys, 4 objects: LTX %t, levels %v; want LTX and level 9's file", c.LTX, c.Levels)
	}
}
