#!/usr/bin/env bash
# Builds the linux/amd64 + linux/arm64 manifest list from `make dist` output
# with buildah, offline (every Dockerfile stage is FROM scratch), and writes
# it as an OCI image layout to dist/image.oci. Storage is private to dist/ so
# it never touches a user's containers and a rerun starts clean.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-litestream-sidecar}"
IMAGE_TAG="${IMAGE_TAG:-dev}"
read -r -a build_args <<<"${IMAGE_BUILD_ARGS:-}"
store="$PWD/dist/buildah"
out="$PWD/dist/image.oci"
bh() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }

rm -rf "$store" "$out"
list="$IMAGE:$IMAGE_TAG"
bh manifest create "$list" >/dev/null
for arch in amd64 arm64; do
	# --platform sets TARGETARCH and the config's architecture; no RUN step
	# executes, so no emulation is needed for arm64.
	bh build --quiet --platform "linux/$arch" "${build_args[@]}" \
		--manifest "$list" -t "$IMAGE:$IMAGE_TAG-$arch" -f Dockerfile . >/dev/null
	echo "built linux/$arch"
done
bh manifest push --quiet --all "$list" "oci:$out:$IMAGE_TAG" 
rm -rf "$store"
echo "wrote $out ($IMAGE:$IMAGE_TAG, linux/amd64 + linux/arm64)"
