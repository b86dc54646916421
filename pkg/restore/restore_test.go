package restore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestCheckLocalDeadline: the check of a database already present that
// RESTORE_TIMEOUT cuts short is the timeout (exit 69), never a damaged
// database (65, "move it aside"); a file that is not a database is 65.
func TestCheckLocalDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := checkLocal(context.Background(), path, time.Nanosecond).wait()
	if sysexit.Code(err) != sysexit.Unavailable || !strings.Contains(err.Error(), "RESTORE_TIMEOUT") {
		t.Errorf("cut by the deadline: exit %d, %v; want %d naming RESTORE_TIMEOUT", sysexit.Code(err), err, sysexit.Unavailable)
	}
	err = checkLocal(context.Background(), path, time.Minute).wait()
	if sysexit.Code(err) != sysexit.DataErr || !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("not a database: exit %d, %v; want %d", sysexit.Code(err), err, sysexit.DataErr)
	}
}
