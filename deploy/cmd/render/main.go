// Command render prints a kustomization rendered as `kubectl kustomize` would
// (make render), for machines without kubectl.
package main

import (
	"fmt"
	"os"

	"github.com/litestream-sidecar/litestream-sidecar/deploy"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: render <kustomization dir>")
		os.Exit(64)
	}
	out, err := deploy.Kustomize(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
