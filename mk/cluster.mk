# ---- Cluster test: our manifests on a real one-node Kubernetes ----
# (docs/faults.md "Tested on a real node" says what it proves.)
# `make cluster-test` builds the pinned Kubernetes binaries once (about 11
# minutes cold on 2 cores, then cached in .bin/kube-<version>/), installs
# etcd, containerd, runc, the CNI plugins, busybox and buildah from Debian,
# builds our image (image-oci) and the Overseerr stand-in, then
# ci/cluster/run.sh starts the node inside a private network namespace,
# applies deploy/k8s/test-cluster (deploy/k8s/overseerr with local images)
# and runs internal/cluster's scenarios; it tears everything down after.
# Needs root (network namespace, mounts, cgroups). Included by the Makefile.

KUBE_VERSION := v1.34.4
KUBE_MAJOR   := 1
KUBE_MINOR   := 34
KUBE_BIN     := $(TOOLS)/kube-$(KUBE_VERSION)
KUBE_CMDS    := kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl
# What hack/lib/version.sh stamps, so `kubectl version` and the node report
# v1.34.4 (the kubelet's version is also what the API server's skew checks read).
KUBE_VERSION_PKGS := k8s.io/component-base/version k8s.io/client-go/pkg/version
KUBE_LDFLAGS := -s -w $(foreach p,$(KUBE_VERSION_PKGS),-X $(p).gitVersion=$(KUBE_VERSION) \
	-X $(p).gitMajor=$(KUBE_MAJOR) -X $(p).gitMinor=$(KUBE_MINOR) -X $(p).gitTreeState=clean)
# Debian parts of the node, plus what image-oci needs to build both arches.
CLUSTER_DEBS := etcd-server containerd runc containernetworking-plugins busybox-static buildah \
	iproute2 util-linux curl jq openssl gcc-aarch64-linux-gnu libc6-dev-arm64-cross

# The CRDs of the operators' kinds the examples use (PodMonitor,
# PrometheusRule, ExternalSecret), as the projects publish them: from their Go
# module zips (the module proxy is reachable, their release downloads are
# not), pinned, into .bin/crds-<versions>/. The cluster test installs them
# after the bare-cluster part (internal/cluster/withcrds_test.go).
PROMETHEUS_OPERATOR_VERSION := v0.85.0
EXTERNAL_SECRETS_VERSION    := v1.3.2
CRD_DIR := $(TOOLS)/crds-prometheus-operator-$(PROMETHEUS_OPERATOR_VERSION)-external-secrets-$(EXTERNAL_SECRETS_VERSION)
# module@version, directory in its zip, file: one line each.
CRD_FILES := \
	github.com/prometheus-operator/prometheus-operator@$(PROMETHEUS_OPERATOR_VERSION):example/prometheus-operator-crd:monitoring.coreos.com_podmonitors.yaml \
	github.com/prometheus-operator/prometheus-operator@$(PROMETHEUS_OPERATOR_VERSION):example/prometheus-operator-crd:monitoring.coreos.com_prometheusrules.yaml \
	github.com/external-secrets/external-secrets@$(EXTERNAL_SECRETS_VERSION):config/crds/bases:external-secrets.io_externalsecrets.yaml

.PHONY: cluster-tools cluster-debs cluster-test cluster-down

## cluster-tools: the pinned Kubernetes binaries (.bin/kube-<version>/), MinIO, the published CRDs, and the Debian parts
cluster-tools: $(KUBE_BIN)/kubelet $(TOOLS)/minio $(CRD_DIR)/.done cluster-debs

# `go mod download` outside any module (cd /), so our go.mod is left alone;
# the zip is verified against the Go checksum database like any module.
$(CRD_DIR)/.done:
	@rm -rf $(TOOLS)/crds-*
	@mkdir -p $(CRD_DIR)
	@for f in $(CRD_FILES); do \
		mod=$${f%%:*}; rest=$${f#*:}; sub=$${rest%%:*}; file=$${rest#*:}; \
		dir=$$(cd / && go mod download -json $$mod | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
		[ -f "$$dir/$$sub/$$file" ] || { echo "crds: $$mod has no $$sub/$$file" >&2; exit 1; }; \
		install -m 0644 "$$dir/$$sub/$$file" $(CRD_DIR)/$$file && echo "crds: $$file from $$mod"; \
	done
	@touch $@

# Rebuilt only when the pinned version changes (the stamp file), like the
# Makefile's tools. One `go build` of all five shares the compilation of
# the packages they have in common.
$(KUBE_BIN)/kubelet: $(TOOLS)/.kube-$(KUBE_VERSION)
$(TOOLS)/.kube-$(KUBE_VERSION): ci/cluster/k8s-wrapper/go.mod ci/cluster/k8s-wrapper/go.sum
	@rm -rf $(TOOLS)/kube-*
	cd ci/cluster/k8s-wrapper && CGO_ENABLED=0 go build -trimpath -ldflags '$(KUBE_LDFLAGS)' \
		-o $(KUBE_BIN)/ $(addprefix k8s.io/kubernetes/cmd/,$(KUBE_CMDS))
	@rm -f $(TOOLS)/.kube-*; touch $@

# Idempotent: apt runs only for packages not installed yet.
cluster-debs:
	@missing=$$(for p in $(CLUSTER_DEBS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

## cluster-test: a one-node Kubernetes in a private network namespace, our manifests applied, the scenarios of docs/faults.md
cluster-test: cluster-tools image-oci
	@mkdir -p dist/cluster
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o dist/cluster/standin ./internal/cluster/standin
	PATH=$(KUBE_BIN):$$PATH go test -count=1 -tags kubectl -run TestKubectlAgrees ./deploy
	go test -c -tags cluster -o dist/cluster/cluster.test ./internal/cluster
	ci/cluster/images.sh
	KUBE_VERSION=$(KUBE_VERSION) CRD_DIR=$(CRD_DIR) ci/cluster/run.sh

## cluster-down: tear down a cluster a killed run left behind (run.sh does it itself)
cluster-down:
	ci/cluster/down.sh
