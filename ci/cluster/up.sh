#!/usr/bin/env bash
# Brings up a one-node Kubernetes cluster (the cluster test, mk/cluster.mk)
# inside the private network namespace NETNS: etcd, containerd,
# kube-apiserver, kube-controller-manager, kube-scheduler and the kubelet,
# each started by PID (pids/), logging to logs/. Then imports the images in
# CLUSTER_IMAGES and creates the fixtures a real cluster would already have.
# down.sh undoes all of it; run.sh calls both.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
CLUSTER_IMAGES="${CLUSTER_IMAGES:-$REPO/dist/cluster}"
t0=$(date +%s)

missing=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
	[ -x "$KUBE_BIN/$b" ] || missing+=("$KUBE_BIN/$b (make cluster-tools)")
done
for c in etcd containerd runc ctr nsenter ip openssl curl findmnt setsid; do
	command -v "$c" >/dev/null || missing+=("$c (make cluster-tools)")
done
[ -x /usr/lib/cni/bridge ] || missing+=("/usr/lib/cni/bridge (containernetworking-plugins)")
if [ ${#missing[@]} -gt 0 ]; then
	printf 'cluster: missing: %s\n' "${missing[@]}" >&2
	exit 1
fi

# A previous run killed before its teardown: undo it first.
if [ -e "$CLUSTER_DIR" ] || [ -e "/run/netns/$NETNS" ]; then
	log "leftovers of a previous run found, tearing them down first"
	"$here/down.sh"
fi

d="$CLUSTER_DIR"
mkdir -p "$d"/{logs,pids,pki,etcd,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,pv/config}

# What the host looked like before, so down.sh removes only what we made.
{
	[ -d /run/netns ] && echo "had_run_netns=1" || echo "had_run_netns=0"
	findmnt -rn /run/netns >/dev/null && echo "had_run_netns_mount=1" || echo "had_run_netns_mount=0"
	for p in /run/containerd /var/lib/cni /var/log/containers; do
		key=$(echo "$p" | tr '/' '_')
		[ -e "$p" ] && echo "had$key=1" || echo "had$key=0"
	done
} >"$d/host-before"
ls /run/netns 2>/dev/null >"$d/netns-before" || true
for k in $KUBELET_SYSCTLS; do echo "$k=$(sysctl -n "$k")"; done >"$d/sysctls"

log "network namespace $NETNS: $NODE_IP (node), pods $POD_SUBNET"
ip netns add "$NETNS"
ns ip link set lo up
ns ip link add lsc0 type veth peer name lsc1
ns ip addr add "$NODE_IP/24" dev lsc0
ns ip addr add "$PEER_IP/24" dev lsc1
ns ip link set lsc0 up
ns ip link set lsc1 up
# Components that look for "the" host address follow the default route.
ns ip route add default via "$PEER_IP" dev lsc0

log "PKI (a throwaway CA: the kubelet's pods need kube-root-ca.crt)"
(
	cd "$d/pki"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=lsc-cluster-ca 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,IP:%s,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' "$NODE_IP" >san.ext
	openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 2 -extfile san.ext 2>/dev/null
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	echo "$TOKEN,admin,admin,system:masters" >tokens.csv
)
cat >"$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lsc
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: "$d/pki/ca.crt"}
users:
- name: admin
  user: {token: "$TOKEN"}
contexts:
- name: lsc
  context: {cluster: lsc, user: admin}
current-context: lsc
EOF

# start NAME CMD...: in NETNS, its own session (a ^C reaches run.sh's trap,
# which tears down in order), PID recorded for down.sh.
start() {
	local name=$1
	shift
	setsid nsenter --net="/run/netns/$NETNS" "$@" >"$d/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$d/pids/$name"
}
# wait_for DESC SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
	local desc=$1 secs=$2
	shift 2
	local end=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			log "timed out after ${secs}s waiting for $desc"
			return 1
		fi
		sleep 0.5
	done
	log "$desc ($(($(date +%s) - t0))s)"
}

start etcd etcd --name lsc --data-dir "$d/etcd" \
	--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster lsc=http://127.0.0.1:2380 --listen-metrics-urls ""
wait_for "etcd healthy" 30 ns curl -sf http://127.0.0.1:2379/health

cat >"$d/containerd/config.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$d/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The machine lacks CAP_SYS_RESOURCE: without this every sandbox fails
  # with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  enable_selinux = false
  # The pods' network namespaces under our state directory, not /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
EOF
cat >"$d/cni/net.d/10-lsc.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "lsc",
  "plugins": [{
    "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_SUBNET"}]],
             "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$d/cni/ipam"}
  }]
}
EOF
start containerd containerd --config "$d/containerd/config.toml"
wait_for "containerd serving" 30 ctr version

log "importing images from $CLUSTER_IMAGES"
for tar in "$CLUSTER_IMAGES"/*.tar; do
	# Each archive's single image is named by its ref annotation (the
	# full name:tag, see run.sh), so import needs no renaming.
	ctr -n k8s.io images import --platform linux/amd64 "$tar" >/dev/null
done
# (listed once: `ctr ... | grep -q` under pipefail fails when grep exits
# before ctr has written everything)
imported=$(ctr -n k8s.io images ls -q)
for img in "$PAUSE_IMAGE" "$SIDECAR_IMAGE" "$STANDIN_IMAGE"; do
	grep -qx "$img" <<<"$imported" || { log "image $img not imported"; exit 1; }
done

start kube-apiserver "$KUBE_BIN/kube-apiserver" \
	--etcd-servers=http://127.0.0.1:2379 \
	--bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$NODE_IP" \
	--tls-cert-file="$d/pki/apiserver.crt" --tls-private-key-file="$d/pki/apiserver.key" \
	--client-ca-file="$d/pki/ca.crt" --token-auth-file="$d/pki/tokens.csv" \
	--authorization-mode=AlwaysAllow \
	--service-account-issuer=https://kubernetes.default.svc \
	--service-account-key-file="$d/pki/sa.pub" --service-account-signing-key-file="$d/pki/sa.key" \
	--service-cluster-ip-range="$SERVICE_SUBNET" \
	--kubelet-preferred-address-types=InternalIP \
	--enable-priority-and-fairness=false --profiling=false
wait_for "kube-apiserver ready" 90 kubectl get --raw /readyz

start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
	--kubeconfig="$d/kubeconfig" --leader-elect=false --bind-address=127.0.0.1 \
	--service-account-private-key-file="$d/pki/sa.key" --root-ca-file="$d/pki/ca.crt" \
	--use-service-account-credentials=false --profiling=false
start kube-scheduler "$KUBE_BIN/kube-scheduler" \
	--kubeconfig="$d/kubeconfig" --leader-elect=false --bind-address=127.0.0.1 --profiling=false

: >"$d/resolv.conf"
cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$d/containerd/containerd.sock
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
podLogsDir: $d/pod-logs
resolvConf: $d/resolv.conf
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
EOF
start kubelet "$KUBE_BIN/kubelet" --config="$d/kubelet.yaml" --kubeconfig="$d/kubeconfig" \
	--root-dir="$d/kubelet" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME"
# The kubelet writes the sysctls in its container manager's start, before
# the node reports Ready; put them back as soon as the node object exists,
# and once more when it is Ready (down.sh does it a third time).
restore_sysctls() { while IFS='=' read -r k v; do sysctl -qw "$k=$v"; done <"$d/sysctls"; }
wait_for "node $NODE_NAME registered" 120 kubectl get node "$NODE_NAME"
restore_sysctls
wait_for "node $NODE_NAME Ready" 120 kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
restore_sysctls
for k in $KUBELET_SYSCTLS; do
	grep -qx "$k=$(sysctl -n "$k")" "$d/sysctls" || { log "sysctl $k not restored"; exit 1; }
done

# No operator CRDs: the node is a new user's bare cluster until the cluster
# test installs the published ones (internal/cluster/withcrds_test.go).
log "fixtures: namespaces overseerr and sonarr (restricted), a PV for the config PVC"
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: overseerr
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
---
apiVersion: v1
kind: Namespace
metadata:
  name: sonarr
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: overseerr-config
spec:
  capacity: {storage: 1Gi}
  accessModes: ["ReadWriteOnce"]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: overseerr, name: overseerr-config}
  hostPath: {path: "$d/pv/config", type: Directory}
EOF
chmod 0777 "$d/pv/config"
wait_for "service account overseerr/default" 60 kubectl -n overseerr get serviceaccount default
log "cluster up in $(($(date +%s) - t0))s: $(kubectl get node "$NODE_NAME" -o jsonpath='kubelet {.status.nodeInfo.kubeletVersion}, {.status.nodeInfo.containerRuntimeVersion}, kernel {.status.nodeInfo.kernelVersion}')"
