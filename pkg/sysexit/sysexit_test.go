package sysexit_test

import (
	"errors"
	"fmt"
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
