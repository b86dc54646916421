package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestClaimOutput: --output is refused before any download, with exit 73
// and a line naming --output and its path, wherever the copy could not be
// kept: the file or a -wal beside it exists, its directory cannot be made,
// or a file cannot be created there. A path that can take the copy is left
// as it was found, its directory made.
func TestClaimOutput(t *testing.T) {
	dir := t.TempDir()
	touch := func(p string) string {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	touch(filepath.Join(dir, "exists.db"))
	touch(filepath.Join(dir, "stale.db-wal"))
	file := touch(filepath.Join(dir, "file"))
	cases := []struct{ name, out, want string }{
		{"exists", filepath.Join(dir, "exists.db"), "already exists"},
		{"a -wal beside it", filepath.Join(dir, "stale.db"), "stale.db-wal already exists"},
		{"under a file", filepath.Join(file, "sub", "copy.db"), "cannot create its directory"},
		{"name too long", filepath.Join(dir, strings.Repeat("x", 300)+".db"), "cannot create the file: file name too long"},
	}
	if ro := testenv.UnwritableDir(t); ro != "" {
		cases = append(cases, struct{ name, out, want string }{"read-only directory", filepath.Join(ro, "copy.db"), "cannot create the file"})
	}
	for _, tc := range cases {
		err := claimOutput(tc.out)
		if sysexit.Code(err) != sysexit.CantCreate || !strings.Contains(err.Error(), "--output "+tc.out+": ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (exit %d); want exit 73 naming --output %s and %q", tc.name, err, sysexit.Code(err), tc.out, tc.want)
		}
	}

	ok := filepath.Join(dir, "new", "copy.db")
	if err := claimOutput(ok); err != nil {
		t.Fatalf("a new path: %v", err)
	}
	if entries, err := os.ReadDir(filepath.Dir(ok)); err != nil || len(entries) != 0 {
		t.Fatalf("after the claim, %s holds %v (%v); want it made and empty", filepath.Dir(ok), entries, err)
	}
}
