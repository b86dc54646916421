package e2e_test

import (
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestMain removes the binaries testenv.Binaries built for this run.
func TestMain(m *testing.M) { testenv.Main(m) }
