# litestream-sidecar. `make demo` and `make test` are the quick start;
# `make tools` installs the real parts tests run against, into .bin/ (cached).

MODULE      := github.com/litestream-sidecar/litestream-sidecar
# Pinned tools, built from the Go module proxy (no prebuilt downloads).
MINIO_VERSION       := v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION          := v0.0.0-20250313080218-cf909e1063a9
STATICCHECK_VERSION := v0.8.2

TOOLS   := $(CURDIR)/.bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(MODULE)/pkg/version.Version=$(VERSION) -X $(MODULE)/pkg/version.Commit=$(COMMIT)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'

# SQLite maps at most SQLITE_MAX_MMAP_SIZE of a database (2 GiB by
# default); restore's integrity check reads through a map (pkg/verify),
# which in a memory-limited pod is what keeps a 4 GiB check at seconds
# rather than minutes. Every go command below builds SQLite with it.
export CGO_CFLAGS := -O2 -g -DSQLITE_MAX_MMAP_SIZE=1099511627776

# Tests find the tools through these, whatever their working directory.
export MINIO_BIN := $(TOOLS)/minio
export MC_BIN    := $(TOOLS)/mc

.PHONY: all build test test-arm64 race lint demo tools clean faults faults-full

all: build

## build: restore and replicate for this machine, into bin/
build:
	@echo "make build: bin/restore, bin/replicate (a first build downloads the modules and compiles SQLite and the AWS SDK: several minutes on 2 cores)"
	go build $(GOFLAGS_BUILD) -o bin/ ./cmd/restore ./cmd/replicate

## test: every package's tests and the end-to-end tests, against a real MinIO (installed by `make tools`); the heavier suites are the targets below
test: tools
	go test -count=1 -timeout 20m ./...

## race: the packages that can, under the race detector, with the binaries
## e2e and deploy run built with it too (GOFLAGS reaches testenv's go build):
## a race in the sidecar itself makes it exit 66, which fails the test.
race: tools
	GOFLAGS=-race go test -count=1 -timeout 30m ./pkg/... ./internal/testenv ./internal/faultproxy ./internal/e2e ./deploy

## test-arm64: the package with arm64 assembly (pkg/ltxrestore's page CRC),
## built for arm64 and run under qemu-aarch64-static (Debian's
## qemu-user-static; .ci/run installs it)
test-arm64:
	CGO_ENABLED=0 GOARCH=arm64 go test -count=1 -exec qemu-aarch64-static ./pkg/ltxrestore

## lint: gofmt, go vet, staticcheck
lint: $(TOOLS)/staticcheck
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	go vet ./...
	go vet -tags faults ./internal/faults
	$(TOOLS)/staticcheck ./...
	$(TOOLS)/staticcheck -tags faults ./internal/faults
	go vet -tags image,kubectl ./deploy
	go vet -tags cluster ./internal/cluster
	$(TOOLS)/staticcheck -tags cluster ./internal/cluster/...

## demo: local MinIO, sample database, replicate, SIGTERM, delete, restore, report
demo: build $(TOOLS)/minio
	go run ./internal/demo

## tools: MinIO, mc and staticcheck at pinned versions (idempotent, cached in .bin/)
tools: $(TOOLS)/minio $(TOOLS)/mc $(TOOLS)/staticcheck

# Each tool is rebuilt only when its pinned version changes (the stamp file).
$(TOOLS)/minio: $(TOOLS)/.minio-$(MINIO_VERSION)
$(TOOLS)/.minio-$(MINIO_VERSION):
	@echo "make tools: MinIO $(MINIO_VERSION) from the Go module proxy into .bin/ (first run only: a few minutes on 2 cores)"
	GOBIN=$(TOOLS) go install github.com/minio/minio@$(MINIO_VERSION)
	@rm -f $(TOOLS)/.minio-*; touch $@

$(TOOLS)/mc: $(TOOLS)/.mc-$(MC_VERSION)
$(TOOLS)/.mc-$(MC_VERSION):
	@echo "make tools: mc $(MC_VERSION) from the Go module proxy into .bin/ (first run only)"
	GOBIN=$(TOOLS) go install github.com/minio/mc@$(MC_VERSION)
	@rm -f $(TOOLS)/.mc-*; touch $@

$(TOOLS)/staticcheck: $(TOOLS)/.staticcheck-$(STATICCHECK_VERSION)
$(TOOLS)/.staticcheck-$(STATICCHECK_VERSION):
	@echo "make tools: staticcheck $(STATICCHECK_VERSION) from the Go module proxy into .bin/ (first run only)"
	GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@rm -f $(TOOLS)/.staticcheck-*; touch $@

clean:
	rm -rf bin dist .demo

# ---- Release artefacts: static binaries, the multi-arch image, rendered manifests ----
# `make dist` builds static restore + replicate per arch (cgo for mattn/go-sqlite3,
# cross-compiled with Debian's gcc-aarch64-linux-gnu), plus the files the
# FROM-scratch image needs (CA bundle, passwd/group for the non-root user),
# because the Dockerfile cannot run anything: every stage is scratch so
# buildah builds it offline.
DIST_ARCHES   := amd64 arm64
CC_amd64      ?= gcc
CC_arm64      ?= aarch64-linux-gnu-gcc
DIST_TAGS     := osusergo,netgo,sqlite_omit_load_extension
DIST_LDFLAGS  := $(LDFLAGS) -linkmode external -extldflags '-static'
CA_BUNDLE     ?= /etc/ssl/certs/ca-certificates.crt
IMAGE         ?= litestream-sidecar
IMAGE_TAG     ?= $(VERSION)
IMAGE_PLATFORMS := linux/amd64,linux/arm64
IMAGE_CREATED ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGE_BUILD_ARGS := --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg CREATED=$(IMAGE_CREATED)

.PHONY: dist image image-oci image-check render rules

## dist: static restore + replicate for linux/amd64 and linux/arm64 into dist/<arch>/
dist: $(addprefix dist-,$(DIST_ARCHES))

dist-%:
	@mkdir -p dist/$*/rootfs/etc/ssl/certs
	CGO_ENABLED=1 GOOS=linux GOARCH=$* CC=$(CC_$*) \
		go build -trimpath -tags $(DIST_TAGS) -ldflags "$(DIST_LDFLAGS)" -o dist/$*/ ./cmd/restore ./cmd/replicate
	cp $(CA_BUNDLE) dist/$*/rootfs/etc/ssl/certs/ca-certificates.crt
	printf 'root:x:0:0:root:/:/sbin/nologin\nsidecar:x:65532:65532:litestream-sidecar:/:/sbin/nologin\n' > dist/$*/rootfs/etc/passwd
	printf 'root:x:0:\nsidecar:x:65532:\n' > dist/$*/rootfs/etc/group
	@ls -l dist/$*/restore dist/$*/replicate

## image: the linux/amd64 + linux/arm64 image with docker buildx (needs a Docker engine)
image: dist
	docker buildx build --platform $(IMAGE_PLATFORMS) $(IMAGE_BUILD_ARGS) -t $(IMAGE):$(IMAGE_TAG) .

## image-oci: the same manifest list with buildah, offline (what CI builds), saved to dist/image.oci
image-oci: dist
	IMAGE=$(IMAGE) IMAGE_TAG=$(IMAGE_TAG) IMAGE_BUILD_ARGS="$(IMAGE_BUILD_ARGS)" ci/image-oci.sh

## image-check: inspect the OCI image, extract its binaries, run them against MinIO (amd64 native, arm64 under qemu)
image-check: image-oci tools
	IMAGE_VERSION=$(VERSION) ci/image-check.sh dist/image.oci

## rules: the PrometheusRule's alerts as a plain Prometheus rule file (deploy/prometheus/, checked in)
rules:
	go run ./deploy/cmd/rules deploy > deploy/prometheus/litestream-sidecar.rules.yaml.tmp
	mv deploy/prometheus/litestream-sidecar.rules.yaml.tmp deploy/prometheus/litestream-sidecar.rules.yaml

## render: the Kubernetes manifests as kubectl would apply them (kustomize), into dist/k8s/
render:
	@mkdir -p dist/k8s
	for e in overseerr sonarr; do go run ./deploy/cmd/render deploy/k8s/$$e > dist/k8s/$$e.yaml && echo "rendered dist/k8s/$$e.yaml" || exit 1; done

# ---- Benchmarks (bench/): our restore vs upstream litestream vs a raw download, replication ----
LITESTREAM_VERSION := v0.5.18

.PHONY: bench tools-bench

## tools-bench: the upstream litestream CLI at a pinned version, for comparisons (cached in .bin/)
tools-bench: $(TOOLS)/litestream
$(TOOLS)/litestream: $(TOOLS)/.litestream-$(LITESTREAM_VERSION)
$(TOOLS)/.litestream-$(LITESTREAM_VERSION):
	GOBIN=$(TOOLS) go install github.com/benbjohnson/litestream/cmd/litestream@$(LITESTREAM_VERSION)
	@rm -f $(TOOLS)/.litestream-*; touch $@

## bench: restore and replication benchmarks on a local MinIO; table on stdout + bench/results.json (narrow with BENCH_FLAGS="-sizes 10MB -runs 1")
bench: build tools tools-bench
	go run ./bench/cmd/bench $(BENCH_FLAGS)

## faults: the fault suite (internal/faults, build tag `faults`) against the
## real binaries and a real MinIO, then bounded fuzzing of the config and
## REPLICA_URL parsers, in the CI profile: every scenario and every
## assertion, with shorter long loops (fewer kills, a 3-minute soak, fewer
## fuzz execs). Prints a table of scenarios, runs and failures. About
## 10 minutes on 2 cores; docs/faults.md has the figures of both profiles.
## FAULTS_SKIP takes a -skip regexp; FAULTS_SCALE scales repeat counts.
## Fuzzing budgets are exec counts (Nx), not durations: with a duration,
## go1.26's fuzz coordinator can report its own -fuzztime deadline as a
## failure ("context deadline exceeded", no crasher; golang/go#75804, fixed
## in go1.27). A count has no deadline to race; FUZZ_MAX seconds still bound
## each fuzzer's wall time (ci/fuzz.sh says how).
FAULTS_PROFILE ?= ci
FAULTS_SKIP    ?=
FAULTS_SCALE   ?= 1
# Exec counts per profile; FUZZ_URL/FUZZ_LOAD override either.
FUZZ_URL_full  := 1000000x
FUZZ_LOAD_full := 250000x
FUZZ_URL_ci    := 250000x
FUZZ_LOAD_ci   := 60000x
FUZZ_URL       ?= $(FUZZ_URL_$(FAULTS_PROFILE))
FUZZ_LOAD      ?= $(FUZZ_LOAD_$(FAULTS_PROFILE))
FUZZ_MAX       ?= 300
faults: build tools
	cd internal/faults && FAULTS_PROFILE=$(FAULTS_PROFILE) FAULTS_SCALE=$(FAULTS_SCALE) go test -tags faults -count=1 -timeout 40m $(if $(FAULTS_SKIP),-skip '$(FAULTS_SKIP)')
	ci/fuzz.sh FuzzParseReplicaURL $(FUZZ_URL) $(FUZZ_MAX)
	ci/fuzz.sh FuzzLoad $(FUZZ_LOAD) $(FUZZ_MAX)

## faults-full: the same suite in the full profile, the loop lengths that
## found the rare bugs docs/faults.md tells of (100 kills, a 5-minute soak,
## 1,000,000 fuzz execs): about 22 minutes on 2 cores. Run it when a change
## touches the start sequence, the lease or the history moves.
faults-full:
	$(MAKE) faults FAULTS_PROFILE=full

# The real-node cluster test (docs/faults.md "Tested on a real node"):
# make cluster-test.
include mk/cluster.mk
include mk/terraform.mk
