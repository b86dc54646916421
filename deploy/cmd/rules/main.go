// Command rules prints the PrometheusRule's alerts as a plain Prometheus
// rule file (make rules writes it to deploy/prometheus/).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/litestream-sidecar/litestream-sidecar/deploy"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rules <deploy dir>")
		os.Exit(64)
	}
	src, err := os.ReadFile(filepath.Join(os.Args[1], deploy.PrometheusRulePath))
	if err == nil {
		var out []byte
		if out, err = deploy.RuleFile(src); err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
