// Package deploy holds the Kubernetes and Nomad manifests (data, beside this
// file) and the one piece of Go they need: rendering a kustomization the way
// `kubectl kustomize` does, so tests and `make render` work without kubectl.
package deploy

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Kustomize renders the kustomization in dir (a path on disk) to a YAML
// stream, with kustomize's defaults (the same as `kubectl kustomize dir`).
func Kustomize(dir string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	// kubectl kustomize emits kinds in the legacy order (namespaces and
	// config before workloads); match it so both print the same stream.
	opts.Reorder = krusty.ReorderOptionLegacy
	k := krusty.MakeKustomizer(opts)
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: encode: %w", dir, err)
	}
	return out, nil
}
