// Package version holds the build's identity, stamped by the Makefile with
// -ldflags "-X ...". An unstamped build (go run, go install) reports "dev".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

var (
	// Version is the release, e.g. v0.1.0.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = ""
)

func init() {
	// go install module@version stamps the module version but no -X flags.
	if Version == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			Version = bi.Main.Version
		}
	}
	if Commit == "" {
		Commit = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					Commit = s.Value
				}
			}
		}
	}
}

// String is the one line --version prints.
func String(program string) string {
	return fmt.Sprintf("%s %s (commit %s, %s, %s/%s)", program, Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
