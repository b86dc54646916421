// Package hygiene_test holds checks of the repository itself rather than of
// any one package.
package hygiene_test

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// trackerRef is a reference to an issue by number: "issue" or "issues",
// any case, then an optional '#', then digits. The tracker those numbers
// belong to is not in the repository, so a reader cannot look them up: the
// code and docs say the reason itself, or name the docs/ section that does.
// A numbered reference to a public upstream ("litestream #1270") is not
// matched.
var trackerRef = regexp.MustCompile(`(?i)\bissues?\s*#?[0-9]+`)

// TestNoTrackerNumbers reads every tracked file (binary ones skipped) and
// fails naming each file:line that cites an issue by number.
func TestNoTrackerNumbers(t *testing.T) {
	root, files := trackedFiles(t)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, len(b)+1)
		for n := 1; sc.Scan(); n++ {
			if m := trackerRef.FindString(sc.Text()); m != "" {
				t.Errorf("%s:%d: %q cites a tracker the repository does not have; say the reason, or link docs/", f, n, m)
			}
		}
	}
}

// trackedFiles returns the checkout's root and its tracked files
// (`git ls-files`, relative to the root). Outside a git checkout, or
// without git, there is nothing to check: testenv.Required skips, or
// fails under CI=true.
func trackedFiles(t *testing.T) (string, []string) {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		testenv.Required(t, errors.New("git rev-parse --show-toplevel: not a git checkout, or no git: "+err.Error()))
	}
	root := strings.TrimSpace(string(out))
	out, err = exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(files) < 10 {
		t.Fatalf("git ls-files listed %d files: not this repository", len(files))
	}
	return root, files
}
