package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// TestClassifyRestore: the exit code of a failed restore step
// (docs/design.md "How restore decides"). The deadline comes first, so
// that a check or download cut short is never read as damage; then a
// corrupt file (65), the local disk refusing (73), and otherwise the
// step's own code.
func TestClassifyRestore(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	wrap := func(err error) error { return fmt.Errorf("restore /data/app.db: %w", err) }

	for _, tc := range []struct {
		name     string
		ctx      context.Context
		err      error
		fallback int
		want     int
	}{
		{"deadline passed", done, errors.New("read: EOF"), sysexit.CantCreate, sysexit.Unavailable},
		{"deadline passed on a corrupt file: the deadline", done, wrap(verify.ErrCorrupt), sysexit.CantCreate, sysexit.Unavailable},
		{"database corrupt", live, wrap(verify.ErrCorrupt), sysexit.Unavailable, sysexit.DataErr},
		{"LTX file corrupt", live, wrap(ltxrestore.ErrCorrupt), sysexit.Unavailable, sysexit.DataErr},
		{"disk full", live, wrap(&fs.PathError{Op: "write", Path: "/data/x", Err: syscall.ENOSPC}), sysexit.Unavailable, sysexit.CantCreate},
		{"read-only filesystem", live, wrap(syscall.EROFS), sysexit.Unavailable, sysexit.CantCreate},
		{"quota", live, wrap(syscall.EDQUOT), sysexit.Unavailable, sysexit.CantCreate},
		{"file too large", live, wrap(syscall.EFBIG), sysexit.Unavailable, sysexit.CantCreate},
		{"no permission on a path", live, wrap(&fs.PathError{Op: "open", Path: "/data", Err: syscall.EACCES}), sysexit.Unavailable, sysexit.CantCreate},
		{"permission without a path: not the local disk", live, wrap(fs.ErrPermission), sysexit.Unavailable, sysexit.Unavailable},
		{"anything else: the fallback", live, wrap(errors.New("connection reset")), sysexit.Unavailable, sysexit.Unavailable},
		{"anything else: another fallback", live, wrap(errors.New("connection reset")), sysexit.CantCreate, sysexit.CantCreate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classifyRestore(tc.ctx, tc.err, tc.fallback)
			if got := sysexit.Code(err); got != tc.want {
				t.Errorf("classifyRestore(%v) exits %d; want %d", tc.err, got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("the cause is lost: %v", err)
			}
			if tc.ctx.Err() != nil && !strings.Contains(err.Error(), "RESTORE_TIMEOUT") {
				t.Errorf("%v does not name RESTORE_TIMEOUT", err)
			}
		})
	}
}
