package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/cli"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestExitCodeTables: the exit codes are written once, in sysexit.Exits.
// Each binary's --help lists exactly the codes that binary can exit with,
// each with its meaning there; README.md "Exit codes" is the same table;
// docs/operations.md says what to do for every code.
func TestExitCodeTables(t *testing.T) {
	for _, tc := range []struct {
		b     sysexit.Binary
		modes config.Mode
	}{{sysexit.Restore, config.Restore | config.Verify}, {sysexit.Replicate, config.Replicate}} {
		var buf bytes.Buffer
		cli.New(string(tc.b), "summary", tc.modes).Usage(&buf)
		got := helpExitCodes(buf.String())
		var want []string
		for _, e := range sysexit.For(tc.b) {
			want = append(want, fmt.Sprintf("%d %s %s", e.Code, e.Name, e.Meaning(tc.b)))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s --help exit codes:\n%s\nwant:\n%s", tc.b, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	readme := readDoc(t, "../../README.md")
	rows := markdownTable(t, section(readme, "## Exit codes"))
	if len(rows) == 0 || !slices.Equal(rows[0], []string{"code", "name", "restore", "replicate"}) {
		t.Fatalf("README.md exit codes: header %q, want code | name | `restore` | `replicate`", rows)
	}
	var readmeRows, want []string
	for _, r := range rows[1:] {
		readmeRows = append(readmeRows, strings.Join(r, " | "))
	}
	for _, e := range sysexit.Exits {
		want = append(want, strings.Join([]string{strconv.Itoa(e.Code), e.Name, e.Restore, e.Replicate}, " | "))
	}
	if !slices.Equal(readmeRows, want) {
		t.Errorf("README.md exit codes (backticks removed, – read as none):\n%s\nwant sysexit.Exits:\n%s", strings.Join(readmeRows, "\n"), strings.Join(want, "\n"))
	}

	ops := readDoc(t, "../../docs/operations.md")
	for _, e := range sysexit.Exits {
		if !strings.Contains(ops, fmt.Sprintf("\n### %d: ", e.Code)) {
			t.Errorf("docs/operations.md has no section \"### %d: …\" saying what to do", e.Code)
		}
	}
}

var helpExitLine = regexp.MustCompile(`^  (\d+) +(\S+) +(\S.*)$`)

// helpExitCodes is the "Exit codes:" table of a --help text, one
// "code name meaning" string per line.
func helpExitCodes(help string) []string {
	_, table, _ := strings.Cut(help, "\nExit codes:\n")
	var out []string
	for line := range strings.Lines(table) {
		m := helpExitLine.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			break
		}
		out = append(out, m[1]+" "+m[2]+" "+m[3])
	}
	return out
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section is the text under heading up to the next heading of its level.
func section(doc, heading string) string {
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return ""
	}
	level := heading[:strings.Index(heading, " ")+1]
	if i := strings.Index(rest, "\n"+level); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// markdownTable is the first table in text, its cells trimmed, backticks
// removed and "–" (none) read as "", the separator row left out.
func markdownTable(t *testing.T, text string) [][]string {
	t.Helper()
	var rows [][]string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		if strings.HasPrefix(line, "|---") {
			continue
		}
		var row []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			c = strings.TrimSpace(strings.ReplaceAll(c, "`", ""))
			if c == "–" {
				c = ""
			}
			row = append(row, c)
		}
		rows = append(rows, row)
	}
	return rows
}
