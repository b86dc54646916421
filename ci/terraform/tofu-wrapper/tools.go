//go:build tools

// Package tools pins the OpenTofu command the Terraform proof builds
// (mk/terraform.mk): `go build` of this import path inside this module
// resolves it at the version in go.mod.
package tools

import (
	_ "github.com/opentofu/opentofu/cmd/tofu"
)
