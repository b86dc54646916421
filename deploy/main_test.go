package deploy_test

import (
	"os"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestMain removes the binaries testenv.Binaries built for this run: they
// are tens of megabytes, and a run leaves nothing behind.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	os.Exit(code)
}
