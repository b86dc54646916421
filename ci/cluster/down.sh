#!/usr/bin/env bash
# Tears down what up.sh built, whatever state it reached: pods stopped
# through the kubelet when it still runs, then every process by PID (ours
# from pids/, containerd's shims and containers from its state directory),
# mounts under CLUSTER_DIR and the pods' network namespaces unmounted, the
# kubelet's cgroups removed, NETNS (and its veth pair) deleted, the sysctls
# restored, and host directories up.sh found absent removed again. The
# cluster's logs are kept in dist/cluster-logs/. Safe to run twice.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
d="$CLUSTER_DIR"
[ -d "$d" ] || { ip netns del "$NETNS" 2>/dev/null; exit 0; }
had() { grep -qx "had$(echo "$1" | tr '/' '_')=1" "$d/host-before" 2>/dev/null; }
alive() { [ -f "$d/pids/$1" ] && kill -0 "$(cat "$d/pids/$1")" 2>/dev/null; }

# stop_pid PID SECONDS: SIGTERM, then SIGKILL if it outlives SECONDS.
stop_pid() {
	local pid=$1 secs=$2 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	sleep 0.2
}

# 1. Pods stopped by the kubelet: containers get their grace, sandboxes
# their CNI DEL (pod IPs, veths and network namespaces released).
if alive kubelet && alive kube-apiserver; then
	log "deleting pods through the kubelet"
	kubectl delete namespace overseerr --ignore-not-found --wait=false >/dev/null 2>&1
	kubectl delete pods --all --all-namespaces --grace-period=5 --wait=false >/dev/null 2>&1
	for _ in $(seq 1 90); do
		# the kubelet stops a deleted pod's containers, then its sandbox
		[ -z "$(ctr -n k8s.io tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING"')" ] && break
		sleep 1
	done
fi

# 2. Cluster processes, the kubelet first so it restarts nothing.
for name in kubelet kube-scheduler kube-controller-manager kube-apiserver; do
	[ -f "$d/pids/$name" ] && stop_pid "$(cat "$d/pids/$name")" 10
done

# 3. Whatever containers are left, then containerd and its shims. The
# shims outlive containerd by design, so they are found by the PID files in
# containerd's state directory, not by name.
if alive containerd; then
	for id in $(ctr -n k8s.io tasks ls -q 2>/dev/null); do
		ctr -n k8s.io tasks kill -s KILL "$id" >/dev/null 2>&1
	done
	sleep 1
	stop_pid "$(cat "$d/pids/containerd")" 10
fi
for f in "$d"/containerd/state/io.containerd.runtime.v2.task/*/*/init.pid; do
	[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
done
for f in "$d"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
	[ -f "$f" ] && stop_pid "$(cat "$f")" 3
done
# Any process still in the kubelet's cgroups is a container of ours.
for procs in $(find /sys/fs/cgroup/pids/kubepods -name cgroup.procs 2>/dev/null); do
	for pid in $(cat "$procs"); do kill -KILL "$pid" 2>/dev/null; done
done
[ -f "$d/pids/etcd" ] && stop_pid "$(cat "$d/pids/etcd")" 10

# 4. Mounts: everything below CLUSTER_DIR (overlay rootfs, shm, the
# kubelet's secret and token tmpfs, its rshared root-dir bind mount), and
# the pods' network namespaces that were not there before up.sh.
for _ in 1 2 3; do
	mounts=$(findmnt -rn -o TARGET | awk -v p="$d/" 'index($0, p) == 1' | sort -r)
	for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done
for f in /run/netns/cni-*; do
	[ -e "$f" ] || continue
	grep -qx "$(basename "$f")" "$d/netns-before" 2>/dev/null && continue
	umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null
	rm -f "$f"
done

# 5. The kubelet's cgroups, leaves first (cgroupfs driver: /kubepods in
# every v1 hierarchy).
for h in /sys/fs/cgroup/*/; do
	[ -d "$h/kubepods" ] && find "$h/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null
	[ -d "$h/kubepods" ] && log "cgroup $h/kubepods not removed"
done

# 6. The network namespace and its veth pair; /run/netns itself if
# `ip netns add` created or mounted it for us and nothing else uses it.
ip netns del "$NETNS" 2>/dev/null
if ! had /run/netns_mount && findmnt -rn /run/netns >/dev/null && [ -z "$(ls -A /run/netns)" ]; then
	umount /run/netns 2>/dev/null
fi
if ! had /run/netns && [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
	rmdir /run/netns
fi

# 7. Sysctls, whatever happened in between.
if [ -f "$d/sysctls" ]; then
	while IFS='=' read -r k v; do sysctl -qw "$k=$v"; done <"$d/sysctls"
fi

# 8. Host paths that runc, containerd, libcni and the kubelet use whatever
# their configuration says (/run/containerd/s for shim sockets, runc's
# state, libcni's cache, /var/log/containers symlinks).
for p in /run/containerd /var/lib/cni /var/log/containers; do
	had "$p" || rm -rf "$p"
done
if had /var/log/containers; then
	find /var/log/containers -maxdepth 1 -type l -lname "$d/*" -delete 2>/dev/null
fi

rm -rf "$REPO/dist/cluster-logs"
mkdir -p "$REPO/dist"
cp -r "$d/logs" "$REPO/dist/cluster-logs" 2>/dev/null
left=$(findmnt -rn -o TARGET | awk -v p="$d/" 'index($0, p) == 1')
if [ -n "$left" ]; then
	log "mounts left under $d; not removing it"
	exit 1
fi
rm -rf "$d"
log "torn down"
