# Shared settings of the cluster test (docs/faults.md "Tested on a real
# node"), sourced by up.sh, down.sh and run.sh. Everything the cluster creates
# lives under CLUSTER_DIR or inside the network namespace NETNS; down.sh
# removes both.

# Fixed, so down.sh finds a previous run's leftovers (a killed `make`) and
# the next up.sh starts clean. Short: containerd's socket path must stay
# under the 108-byte limit of a unix socket address.
CLUSTER_DIR="${CLUSTER_DIR:-/tmp/lsc-cluster}"
NETNS="${NETNS:-lsc-cluster}"
KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KUBE_BIN="${KUBE_BIN:-$REPO/.bin/kube-$KUBE_VERSION}"
MINIO_BIN="${MINIO_BIN:-$REPO/.bin/minio}"

# The node's address: one end of a veth pair whose both ends stay in NETNS
# (the kubelet refuses a loopback node IP). Pods get 10.88.0.0/16 on the CNI
# bridge; both subnets exist only inside NETNS.
NODE_IP=10.77.0.1
PEER_IP=10.77.0.2
POD_SUBNET=10.88.0.0/16
SERVICE_SUBNET=10.96.0.0/24
NODE_NAME=node1
# MinIO listens on the node address so pods reach it through the bridge's
# gateway (a local address of NETNS: no forwarding, no NAT).
MINIO_ADDR="$NODE_IP:9000"

# Images the node runs, imported into containerd's k8s.io namespace. Tags
# are fixed so the test overlay can name them; IfNotPresent (a non-latest
# tag) means the kubelet never tries a registry.
PAUSE_IMAGE=localhost/pause:cluster-test
SIDECAR_IMAGE=localhost/litestream-sidecar:cluster-test
STANDIN_IMAGE=localhost/overseerr-standin:cluster-test

# The kubelet sets these host-wide (not namespaced) sysctls at start
# (pkg/kubelet/cm/container_manager_linux.go setupKernelTunables; the only
# alternative, protectKernelDefaults, makes it refuse to start unless the
# host already has its values). up.sh saves them before and puts them back
# as soon as the kubelet has set them; down.sh restores them again.
KUBELET_SYSCTLS="kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

TOKEN=lsc-cluster-admin-token
ns() { nsenter --net="/run/netns/$NETNS" "$@"; }
log() { printf '%s cluster: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
kubectl() { ns "$KUBE_BIN/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" --cache-dir "$CLUSTER_DIR/kube-cache" "$@"; }
ctr() { command ctr --address "$CLUSTER_DIR/containerd/containerd.sock" "$@"; }
