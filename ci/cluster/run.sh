#!/usr/bin/env bash
# The cluster test (docs/faults.md "Tested on a real node"): up.sh, then the
# scenarios (the test binary internal/cluster, built with -tags cluster) run
# inside the cluster's network namespace, then down.sh whatever happened: a
# failure, ^C or a kill of this script still tears everything down.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
test_bin="${CLUSTER_TEST_BIN:-$REPO/dist/cluster/cluster.test}"
restore_bin="${RESTORE_BIN:-$REPO/dist/amd64/restore}"
for f in "$test_bin" "$restore_bin" "$MINIO_BIN"; do
	[ -x "$f" ] || { echo "cluster: $f missing (make cluster-test builds it)" >&2; exit 1; }
done

# The scenarios run in the background so a signal to this script is
# handled at once (bash runs traps only between foreground commands): the
# test binary is stopped first (its MinIO dies with it, Pdeathsig), then
# everything else.
tpid=
cleanup() {
	set +e # errexit would end the trap at the first failure, skipping down.sh
	if [ -n "$tpid" ] && kill -0 "$tpid" 2>/dev/null; then
		kill -TERM "$tpid"
		wait "$tpid"
	fi
	"$here/down.sh"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$(date +%s)
"$here/up.sh"
t1=$(date +%s)
cd "$REPO/internal/cluster"
rc=0
# KUBECACHEDIR: kubectl keeps its discovery cache in ~/.kube/cache otherwise.
nsenter --net="/run/netns/$NETNS" env KUBECTL="$KUBE_BIN/kubectl" KUBECONFIG="$CLUSTER_DIR/kubeconfig" \
	KUBECACHEDIR="$CLUSTER_DIR/kube-cache" \
	CONTAINERD_ADDRESS="$CLUSTER_DIR/containerd/containerd.sock" \
	MINIO_BIN="$MINIO_BIN" MINIO_ADDR="$MINIO_ADDR" RESTORE_BIN="$restore_bin" CRD_DIR="${CRD_DIR:-}" \
	"$test_bin" -test.v -test.timeout "${CLUSTER_TEST_TIMEOUT:-40m}" ${CLUSTER_TEST_FLAGS:-} &
tpid=$!
wait "$tpid" || rc=$?
log "cluster up $((t1 - t0))s, scenarios $(($(date +%s) - t1))s, exit $rc"
exit $rc
