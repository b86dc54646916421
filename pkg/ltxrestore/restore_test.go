package ltxrestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/benbjohnson/litestream/file"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
)

// shapes are replica histories that exercise different restore plans.
var shapes = []struct {
	name     string
	pageSize int
	build    func(s *source)
}{
	{"snapshot only", 4096, func(s *source) {
		s.insert(2000)
		s.snapshot()
	}},
	{"L0 files only, no snapshot level", 4096, func(s *source) {
		for range 5 {
			s.insert(300)
			s.sync()
		}
	}},
	{"snapshot then incrementals", 4096, func(s *source) {
		s.insert(1500)
		s.snapshot()
		for i := range 8 {
			s.insert(50 + 40*i)
			s.exec(`UPDATE items SET body = 'updated ' || id WHERE id % 7 = 0`)
			s.sync()
		}
	}},
	{"snapshot, L1 compaction, more L0", 4096, func(s *source) {
		s.insert(1000)
		s.snapshot()
		for range 4 {
			s.insert(200)
			s.sync()
		}
		s.compact(1)
		for range 3 {
			s.insert(100)
			s.exec(`DELETE FROM items WHERE id % 11 = 0`)
			s.sync()
		}
	}},
	{"shrink by VACUUM after snapshot", 4096, func(s *source) {
		s.insert(3000)
		s.snapshot()
		s.exec(`DELETE FROM items WHERE id > 500`)
		s.sync()
		s.exec(`VACUUM`)
		s.sync()
		s.insert(20)
		s.sync()
	}},
	{"page size 1024", 1024, func(s *source) {
		s.insert(1500)
		s.snapshot()
		s.insert(300)
		s.sync()
	}},
	{"page size 65536", 65536, func(s *source) {
		s.insert(1500)
		s.snapshot()
		s.insert(300)
		s.sync()
	}},
}

// optionSets run every shape through the whole-file path (small files kept
// in memory) and through the ranged path (tiny parts, many requests).
var optionSets = map[string]ltxrestore.Options{
	"defaults": {},
	"ranged":   {Concurrency: 3, PartSize: 20 << 10, WholeFileMax: 1},
}

// TestRestoreMatchesUpstream proves, for every shape and option set, that
// the output is byte-for-byte the database Litestream's own restore writes,
// and that the stats describe the database written.
func TestRestoreMatchesUpstream(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			client := file.NewReplicaClient(t.TempDir())
			src := newSource(t, client, sh.pageSize)
			sh.build(src)
			p := plan(t, client)
			want := upstream(t, client, p[len(p)-1].MaxTXID)
			for name, opt := range optionSets {
				out := filepath.Join(t.TempDir(), "out.db")
				st, err := ltxrestore.Restore(context.Background(), client, p, out, opt)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				sameBytes(t, name, got, want, sh.pageSize)
				if st.Size != int64(len(want)) || int(st.PageSize) != sh.pageSize || st.TXID != p[len(p)-1].MaxTXID {
					t.Fatalf("%s: stats %+v do not describe the %d-byte database at %s", name, st, len(want), p[len(p)-1].MaxTXID)
				}
				if st.Files != len(p) || st.Requests < int64(len(p)) {
					t.Fatalf("%s: %d files, %d requests for a plan of %d files", name, st.Files, st.Requests, len(p))
				}
			}
		})
	}
}

// TestRestoreMatchesUpstreamMinIO runs the richest shape through
// Litestream's S3 client against a real MinIO, where ranges are HTTP Range
// requests.
func TestRestoreMatchesUpstreamMinIO(t *testing.T) {
	client := minioClient(t)
	src := newSource(t, client, 4096)
	shapes[3].build(src)
	p := plan(t, client)
	if len(p) < 3 {
		t.Fatalf("plan has %d files; the shape should need a snapshot, an L1 and L0 files", len(p))
	}
	want := upstream(t, client, p[len(p)-1].MaxTXID)
	for name, opt := range optionSets {
		out := filepath.Join(t.TempDir(), "out.db")
		var calls int
		opt.Progress = func(ltxrestore.Progress) { calls++ }
		if _, err := ltxrestore.Restore(context.Background(), client, p, out, opt); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sameBytes(t, name, got, want, 4096)
		if calls == 0 {
			t.Fatalf("%s: progress callback never called", name)
		}
	}
}

// TestRestoreRejectsCorruption flips one byte inside a page of the
// snapshot, in a trailer checksum, and removes a file from the plan; each
// must fail as ErrCorrupt and leave no output behind.
func TestRestoreRejectsCorruption(t *testing.T) {
	for name, opt := range optionSets {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			client := file.NewReplicaClient(dir)
			src := newSource(t, client, 4096)
			shapes[2].build(src)
			p := plan(t, client)

			snap := client.LTXFilePath(p[0].Level, p[0].MinTXID, p[0].MaxTXID)
			last := client.LTXFilePath(p[len(p)-1].Level, p[len(p)-1].MinTXID, p[len(p)-1].MaxTXID)
			cases := []struct {
				name   string
				path   string
				offset func(size int64) int64
			}{
				{"page byte in snapshot", snap, func(size int64) int64 { return size / 2 }},
				{"post-apply checksum of last file", last, func(size int64) int64 { return size - 10 }},
			}
			for _, c := range cases {
				orig := flip(t, c.path, c.offset)
				out := filepath.Join(t.TempDir(), "out.db")
				_, err := ltxrestore.Restore(context.Background(), client, p, out, opt)
				if !errors.Is(err, ltxrestore.ErrCorrupt) {
					t.Fatalf("%s: got %v, want ErrCorrupt", c.name, err)
				}
				if _, serr := os.Stat(out); !os.IsNotExist(serr) {
					t.Fatalf("%s: output left behind after a failed restore", c.name)
				}
				if err := os.WriteFile(c.path, orig, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			gap := append(append([]*ltx.FileInfo{}, p[:1]...), p[2:]...)
			_, err := ltxrestore.Restore(context.Background(), client, gap, filepath.Join(t.TempDir(), "out.db"), opt)
			if !errors.Is(err, ltxrestore.ErrCorrupt) {
				t.Fatalf("plan with a gap: got %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestRestoreErrorClasses: a cancelled context, an existing output and a
// missing object each fail with their own class.
func TestRestoreErrorClasses(t *testing.T) {
	dir := t.TempDir()
	client := file.NewReplicaClient(dir)
	src := newSource(t, client, 4096)
	shapes[2].build(src)
	p := plan(t, client)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "out.db")
	if _, err := ltxrestore.Restore(ctx, client, p, out, ltxrestore.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v, want context.Canceled", err)
	}

	if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ltxrestore.Restore(context.Background(), client, p, out, ltxrestore.Options{}); !errors.Is(err, ltxrestore.ErrWrite) {
		t.Fatalf("existing output: got %v, want ErrWrite", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Fatal("an existing output file was changed")
	}

	if err := os.Remove(client.LTXFilePath(p[1].Level, p[1].MinTXID, p[1].MaxTXID)); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "out.db")
	_, err := ltxrestore.Restore(context.Background(), client, p, out2, ltxrestore.Options{})
	if !errors.Is(err, ltxrestore.ErrDownload) || !errors.Is(err, os.ErrNotExist) || errors.Is(err, ltxrestore.ErrCorrupt) {
		t.Fatalf("missing object: got %v, want ErrDownload wrapping os.ErrNotExist", err)
	}
}

// flip inverts one byte of a file and returns the original contents.
func flip(t *testing.T, path string, at func(size int64) int64) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := append([]byte(nil), b...)
	c[at(int64(len(c)))] ^= 0xff
	if err := os.WriteFile(path, c, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}
