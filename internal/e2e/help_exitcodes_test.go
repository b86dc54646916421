package e2e_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestHelpExitCodes: each binary's --help lists every code that binary
// can exit with (sysexit.Exits, which README.md's table is held to), each
// with its meaning for that binary, and nothing of the other binary's:
// replicate's help says nothing of restore's --verify or its outcomes,
// and its introduction names the startup probe's endpoint.
func TestHelpExitCodes(t *testing.T) {
	bins := testenv.Binaries(t)
	line := regexp.MustCompile(`(?m)^  (\d+) +(\S+) +(\S.*)$`)
	for _, b := range []sysexit.Binary{sysexit.Restore, sysexit.Replicate} {
		r := testenv.Exec(t, 30*time.Second, filepath.Join(bins, string(b)), nil, "--help")
		if r.Code != 0 {
			t.Fatalf("%s --help exit %d: %s", b, r.Code, r.Stderr)
		}
		intro, table, ok := strings.Cut(r.Stdout, "\nExit codes:\n")
		if !ok {
			t.Fatalf("%s --help has no exit codes:\n%s", b, r.Stdout)
		}
		var got, want []string
		for _, m := range line.FindAllStringSubmatch(table, -1) {
			got = append(got, m[1]+" "+m[2]+" "+m[3])
		}
		for _, e := range sysexit.For(b) {
			want = append(want, fmt.Sprintf("%d %s %s", e.Code, e.Name, e.Meaning(b)))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s --help exit codes:\n%s\nwant:\n%s", b, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if b == sysexit.Replicate {
			if strings.Contains(r.Stdout, "--verify") || strings.Contains(table, "restored") {
				t.Errorf("replicate --help speaks of restore's --verify or outcomes:\n%s", r.Stdout)
			}
			if summary, _, _ := strings.Cut(intro, "\nSettings"); !strings.Contains(summary, "/startupz") {
				t.Errorf("replicate --help's introduction leaves out /startupz:\n%s", summary)
			}
		}
	}
}
