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

# Tests find the tools through these, whatever their working directory.
export MINIO_BIN := $(TOOLS)/minio
export MC_BIN    := $(TOOLS)/mc

.PHONY: all build test lint demo tools clean

all: build

## build: restore and replicate for this machine, into bin/
build:
	go build $(GOFLAGS_BUILD) -o bin/ ./cmd/restore ./cmd/replicate

## test: every test, against a real MinIO (installed by `make tools`)
test: tools
	go test -count=1 -timeout 20m ./...

## lint: gofmt, go vet, staticcheck
lint: $(TOOLS)/staticcheck
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	go vet ./...
	$(TOOLS)/staticcheck ./...

## demo: local MinIO, sample database, replicate, SIGTERM, delete, restore, report
demo: build tools
	go run ./internal/demo

## tools: MinIO, mc and staticcheck at pinned versions (idempotent, cached in .bin/)
tools: $(TOOLS)/minio $(TOOLS)/mc $(TOOLS)/staticcheck

# Each tool is rebuilt only when its pinned version changes (the stamp file).
$(TOOLS)/minio: $(TOOLS)/.minio-$(MINIO_VERSION)
$(TOOLS)/.minio-$(MINIO_VERSION):
	GOBIN=$(TOOLS) go install github.com/minio/minio@$(MINIO_VERSION)
	@rm -f $(TOOLS)/.minio-*; touch $@

$(TOOLS)/mc: $(TOOLS)/.mc-$(MC_VERSION)
$(TOOLS)/.mc-$(MC_VERSION):
	GOBIN=$(TOOLS) go install github.com/minio/mc@$(MC_VERSION)
	@rm -f $(TOOLS)/.mc-*; touch $@

$(TOOLS)/staticcheck: $(TOOLS)/.staticcheck-$(STATICCHECK_VERSION)
$(TOOLS)/.staticcheck-$(STATICCHECK_VERSION):
	GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@rm -f $(TOOLS)/.staticcheck-*; touch $@

clean:
	rm -rf bin dist .demo
