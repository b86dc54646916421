package sysexit_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestParts: several databases' failures give one line each and the most
// severe code; a nil among them is a success, all nil is nil.
func TestParts(t *testing.T) {
	if err := sysexit.Parts(nil, nil); err != nil {
		t.Fatalf("Parts(nil, nil) = %v; want nil", err)
	}
	a := fmt.Errorf("/data/a.db: %w", sysexit.Errorf(sysexit.Unavailable, "store down"))
	b := fmt.Errorf("/data/b.db: %w", sysexit.Errorf(sysexit.DataErr, "lineage\nconflict"))
	c := fmt.Errorf("/data/c.db: %w", sysexit.Errorf(sysexit.TempFail, "lease held"))
	err := sysexit.Parts(a, nil, b, c)
	if got := sysexit.Code(err); got != sysexit.DataErr {
		t.Fatalf("Code = %d; want %d (data is the most severe)", got, sysexit.DataErr)
	}
	lines := sysexit.Lines(err)
	want := []string{"/data/a.db: store down", "/data/b.db: lineage; conflict", "/data/c.db: lease held"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("Lines = %q; want %q", lines, want)
	}
	if !errors.Is(err, b) || len(sysexit.Split(err)) != 3 {
		t.Fatalf("the parts are not reachable: Split = %v", sysexit.Split(err))
	}
	if one := errors.New("x"); len(sysexit.Split(one)) != 1 || sysexit.Lines(one)[0] != "x" {
		t.Fatalf("a plain error is one part and one line")
	}
}

// TestWorse pins the severity order the docs state.
func TestWorse(t *testing.T) {
	order := []int{sysexit.DataErr, sysexit.NoPerm, sysexit.Config, sysexit.CantCreate, sysexit.Usage, sysexit.Failure, sysexit.Unavailable, sysexit.TempFail, sysexit.OK}
	for i := range order {
		for j := range order {
			if got := sysexit.Worse(order[i], order[j]); got != (i < j) {
				t.Fatalf("Worse(%d, %d) = %t", order[i], order[j], got)
			}
		}
	}
}

// TestExits: every code the package declares is in Exits, once, with a
// name and a meaning for at least one binary, so --help and README.md
// (both held to Exits) list every code a binary can end with. The codes
// each binary exits with are pinned here: moving one is a decision.
func TestExits(t *testing.T) {
	declared := declaredCodes(t)
	var listed []int
	for _, e := range sysexit.Exits {
		if slices.Contains(listed, e.Code) {
			t.Errorf("code %d listed twice", e.Code)
		}
		listed = append(listed, e.Code)
		if e.Name == "" || e.Restore == "" && e.Replicate == "" {
			t.Errorf("code %d: %+v; want a name and a meaning for a binary", e.Code, e)
		}
		if got := sysexit.Name(e.Code); got != e.Name {
			t.Errorf("Name(%d) = %q; want %q", e.Code, got, e.Name)
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, declared) {
		t.Errorf("Exits lists %v; the package declares %v", listed, declared)
	}
	for b, want := range map[sysexit.Binary][]int{
		sysexit.Restore:   {0, 1, 64, 65, 69, 73, 75, 77},
		sysexit.Replicate: {0, 1, 64, 65, 69, 73, 75, 77, 78},
	} {
		var got []int
		for _, e := range sysexit.For(b) {
			got = append(got, e.Code)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s exits with %v; want %v", b, got, want)
		}
	}
}

// declaredCodes is the integer constants of sysexit.go, sorted.
func declaredCodes(t *testing.T) []int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "sysexit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.INT {
					n, _ := strconv.Atoi(lit.Value)
					codes = append(codes, n)
				}
			}
		}
	}
	slices.Sort(codes)
	if len(codes) < 2 {
		t.Fatalf("found the constants %v in sysexit.go; the parse is wrong", codes)
	}
	return codes
}

// TestPartsSeverity: the code of several parts' failure is the most
// severe of theirs, in either order: one a person must look at outranks
// one a retry fixes, and among those a store that did not answer outranks
// a lease still held (it names the fault). An error without a code is a
// bug (Failure); a code not in the order ranks after the known ones and
// before success.
func TestPartsSeverity(t *testing.T) {
	const unknown = 2
	for _, tc := range []struct {
		name  string
		codes []int // -1: an error without a code
		want  int
	}{
		{"none failed", []int{sysexit.OK, sysexit.OK}, sysexit.OK},
		{"one failed", []int{sysexit.OK, sysexit.TempFail}, sysexit.TempFail},
		{"data before any other", []int{sysexit.Unavailable, sysexit.DataErr, sysexit.NoPerm}, sysexit.DataErr},
		{"access before configuration", []int{sysexit.Config, sysexit.NoPerm}, sysexit.NoPerm},
		{"configuration before the disk", []int{sysexit.CantCreate, sysexit.Config}, sysexit.Config},
		{"the disk before usage", []int{sysexit.Usage, sysexit.CantCreate}, sysexit.CantCreate},
		{"usage before a bug", []int{-1, sysexit.Usage}, sysexit.Usage},
		{"a bug before a retry", []int{sysexit.Unavailable, -1}, sysexit.Failure},
		{"the store before the lease", []int{sysexit.TempFail, sysexit.Unavailable}, sysexit.Unavailable},
		{"unknown after the known", []int{unknown, sysexit.TempFail}, sysexit.TempFail},
		{"unknown before success", []int{sysexit.OK, unknown}, unknown},
	} {
		for _, order := range [][]int{tc.codes, reversed(tc.codes)} {
			var errs []error
			for _, c := range order {
				switch c {
				case sysexit.OK:
					errs = append(errs, nil)
				case -1:
					errs = append(errs, errors.New("unclassified"))
				default:
					errs = append(errs, sysexit.Errorf(c, "code %d", c))
				}
			}
			if got := sysexit.Code(sysexit.Parts(errs...)); got != tc.want {
				t.Errorf("%s: Parts of %v exits %d; want %d", tc.name, order, got, tc.want)
			}
		}
	}
}

func reversed(s []int) []int {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
