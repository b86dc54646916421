#!/usr/bin/env bash
# The three images the cluster test's node runs, as OCI archives in
# dist/cluster/ (up.sh imports them into containerd), each named by its ref
# annotation with the fixed tags of env.sh:
#   - ours, linux/amd64, taken from `make image-oci`'s dist/image.oci;
#   - the Overseerr stand-in (internal/cluster/standin), FROM scratch;
#   - the sandbox ("pause") image: Debian's static busybox sleeping, since
#     registry.k8s.io is not reachable.
# Built with buildah offline in a private store under dist/, like
# ci/image-oci.sh, so it never touches a user's containers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
cd "$REPO"

oci="${SIDECAR_OCI:-dist/image.oci}" # override to test another build of the image
[ -f "$oci/index.json" ] || { echo "images: $oci missing (make image-oci)" >&2; exit 1; }
[ -x dist/cluster/standin ] || { echo "images: dist/cluster/standin missing (make cluster-test builds it)" >&2; exit 1; }
busybox=/bin/busybox
dpkg-query -W busybox-static >/dev/null 2>&1 && [ -x "$busybox" ] || { echo "images: static $busybox missing (busybox-static)" >&2; exit 1; }

store="$REPO/dist/cluster/buildah"
bh() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }
rm -rf "$store" dist/cluster/*.tar
trap 'rm -rf "$store"' EXIT

# Our image: the amd64 manifest of the list image-oci wrote.
tag=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$oci/index.json")
bh pull --quiet --platform linux/amd64 "oci:$oci:$tag" >/dev/null
bh push --quiet "$(bh images -q | head -1)" "oci-archive:dist/cluster/sidecar.tar:$SIDECAR_IMAGE"

scratch_image() { # scratch_image OUT REF SRC DEST ENTRYPOINT-JSON
	local c
	c=$(bh from scratch)
	bh copy "$c" "$3" "$4" >/dev/null
	bh config --entrypoint "$5" --user 65532:65532 --os linux --arch amd64 "$c"
	bh commit --quiet --format oci "$c" "oci-archive:$1:$2" >/dev/null
	bh rm "$c" >/dev/null
}
scratch_image dist/cluster/standin.tar "$STANDIN_IMAGE" dist/cluster/standin /standin '["/standin"]'
scratch_image dist/cluster/pause.tar "$PAUSE_IMAGE" "$busybox" /busybox '["/busybox","sleep","2147483647"]'
ls -l dist/cluster/*.tar
