#!/usr/bin/env bash
# Checks the OCI image `make image-oci` wrote: config (user, entrypoint,
# architecture per manifest entry), then the binaries extracted from its
# layers run against MinIO (amd64 natively through the Kubernetes contract,
# arm64 restore --verify under qemu-aarch64-static). The checks are the Go
# test deploy.TestImage; this script only points it at the image.
set -euo pipefail
cd "$(dirname "$0")/.."
oci="$(realpath "${1:-dist/image.oci}")"
IMAGE_OCI="$oci" IMAGE_VERSION="${IMAGE_VERSION:-}" \
	go test -tags image -count=1 -timeout 15m -run '^TestImage$' -v ./deploy/ 2>&1 |
	grep -v '^=== ' 
exit "${PIPESTATUS[0]}"
