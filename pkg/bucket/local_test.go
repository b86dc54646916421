package bucket_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestLocalDir: the directory of a file:// REPLICA_URL is its bucket. A
// missing one (or a file in its place) is exit 65 naming it, as a missing
// bucket is, never an empty replica; an existing one, even empty, passes.
func TestLocalDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  string
		want string // "" for nil
	}{
		{dir, ""},
		{filepath.Join(dir, "missing"), `replica directory does not exist: "` + filepath.Join(dir, "missing") + `" (check the directory in REPLICA_URL)`},
		{filepath.Join(dir, "missing", "deeper"), `replica directory does not exist: "` + filepath.Join(dir, "missing", "deeper") + `"`},
		{file, `replica directory does not exist: "` + file + `" is a file (check the directory in REPLICA_URL)`},
	} {
		err := bucket.LocalDir(tc.dir)
		if tc.want == "" {
			if err != nil {
				t.Errorf("LocalDir(%s) = %v, want nil", tc.dir, err)
			}
			continue
		}
		if err == nil || sysexit.Code(err) != sysexit.DataErr || !errors.Is(err, bucket.ErrNoBucket) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LocalDir(%s) = %v (exit %d); want exit 65, ErrNoBucket, %q", tc.dir, err, sysexit.Code(err), tc.want)
		}
	}
}
