# ---- Terraform / OpenTofu: deploy/terraform, applied for real ----
# (docs/deploy.md "Terraform / OpenTofu" says how to use the module.)
# OpenTofu and the two providers the module uses are built from the Go module
# proxy into .bin/ (cached by version: rebuilt only when a pin changes) and
# installed through a filesystem_mirror named in a CLI configuration file
# (TF_CLI_CONFIG_FILE): no provider registry is reachable, and none is needed.
# `make terraform-test`: fmt, validate, and the module's rendered objects
# against the kustomize overlays'. `make cluster-test` then applies the example
# to the real node (internal/cluster/terraform_test.go). Included by the Makefile.

TOFU_VERSION          := v1.10.6
TF_KUBECTL_VERSION    := v1.19.0
TF_KUSTOMIZE_VERSION  := v0.9.8
TOFU                  := $(TOOLS)/tofu
TF_MIRROR             := $(TOOLS)/terraform-providers
TF_PLATFORM           := $(shell go env GOOS)_$(shell go env GOARCH)
# The registry addresses the module declares (versions.tf), laid out as
# tofu's unpacked filesystem_mirror expects: HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/.
TF_KUBECTL_DIR        := $(TF_MIRROR)/registry.opentofu.org/gavinbunney/kubectl/$(TF_KUBECTL_VERSION:v%=%)/$(TF_PLATFORM)
TF_KUSTOMIZE_DIR      := $(TF_MIRROR)/registry.opentofu.org/kbst/kustomization/$(TF_KUSTOMIZE_VERSION:v%=%)/$(TF_PLATFORM)
TF_CLI_CONFIG         := $(TOOLS)/tofurc-$(TOFU_VERSION)-$(TF_KUBECTL_VERSION)-$(TF_KUSTOMIZE_VERSION)

# The cluster test and the deploy test find them through these.
export TOFU_BIN           := $(TOFU)
export TF_CLI_CONFIG_FILE := $(TF_CLI_CONFIG)
export TF_IN_AUTOMATION   := 1

.PHONY: terraform-tools terraform-test

## terraform-tools: OpenTofu and the kubectl + kustomization providers at pinned versions (cached in .bin/)
terraform-tools: $(TOFU) $(TF_KUBECTL_DIR)/terraform-provider-kubectl $(TF_KUSTOMIZE_DIR)/terraform-provider-kustomization $(TF_CLI_CONFIG)

# opentofu's go.mod replaces hcl/v2, which `go install …@version` refuses:
# ci/terraform/tofu-wrapper requires it and repeats the replace.
$(TOFU): $(TOOLS)/.tofu-$(TOFU_VERSION)
$(TOOLS)/.tofu-$(TOFU_VERSION): ci/terraform/tofu-wrapper/go.mod ci/terraform/tofu-wrapper/go.sum
	cd ci/terraform/tofu-wrapper && CGO_ENABLED=0 go build -trimpath \
		-ldflags '-s -w -X github.com/opentofu/opentofu/version.dev=no' -o $(TOFU) github.com/opentofu/opentofu/cmd/tofu
	@rm -f $(TOOLS)/.tofu-*; touch $@

# The providers' go.mod files have no replace: plain `go install`, into a
# directory named after the version, so a new pin is a new directory.
$(TF_KUBECTL_DIR)/terraform-provider-kubectl:
	@rm -rf $(TF_MIRROR)/registry.opentofu.org/gavinbunney
	CGO_ENABLED=0 GOBIN=$(TF_KUBECTL_DIR) go install -trimpath -ldflags '-s -w' \
		github.com/gavinbunney/terraform-provider-kubectl@$(TF_KUBECTL_VERSION)

$(TF_KUSTOMIZE_DIR)/terraform-provider-kustomization:
	@rm -rf $(TF_MIRROR)/registry.opentofu.org/kbst
	CGO_ENABLED=0 GOBIN=$(TF_KUSTOMIZE_DIR) go install -trimpath -ldflags '-s -w' \
		github.com/kbst/terraform-provider-kustomize@$(TF_KUSTOMIZE_VERSION)
	mv $(TF_KUSTOMIZE_DIR)/terraform-provider-kustomize $@

# Only the mirror: a provider missing from it fails `tofu init` at once
# instead of reaching for a registry.
$(TF_CLI_CONFIG):
	@rm -f $(TOOLS)/tofurc-*
	printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.opentofu.org/*/*"]\n  }\n}\n' '$(TF_MIRROR)' > $@

## terraform-test: tofu fmt -check, validate, and the module's objects against the kustomize overlays'
terraform-test: terraform-tools
	ci/terraform/check.sh
	go vet -tags terraform ./deploy
	$(TOOLS)/staticcheck -tags terraform ./deploy
	go test -tags terraform -count=1 -v -run 'TestTerraform' ./deploy

# The cluster test applies the example too (internal/cluster/terraform_test.go).
cluster-test: terraform-tools
