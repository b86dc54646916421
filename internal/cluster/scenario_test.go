//go:build cluster

package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCluster runs the scenarios docs/faults.md "Tested on a real node"
// lists, in order, on one cluster and one replica prefix: each starts from
// the state the previous one left (a Ready pod whose app keeps writing), and
// recreates it from the replica if a failed scenario left none, so one
// failure does not hide the others.
func TestCluster(t *testing.T) {
	requireCluster(t)
	m := startMinIO(t)
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"1-first-boot", firstBoot},
		{"5-restricted-pod-security", restrictedPodSecurity},
		{"2a-delete-pod-while-writing", func(t *testing.T) { replaceWhileWriting(t, deletePod) }},
		{"2b-evict-pod-while-writing", func(t *testing.T) { replaceWhileWriting(t, evictPod) }},
		{"3-sidecar-crash", sidecarCrash},
		{"4-minio-down-at-pod-start", func(t *testing.T) { minioDownAtStart(t, m) }},
		{"6-lineage-guard-without-restore", lineageGuard},
	}
	var report []string
	for _, s := range steps {
		start, ran := time.Now(), false
		ok := t.Run(s.name, func(t *testing.T) { ran = true; s.run(t) })
		if ran { // not filtered out by -run
			report = append(report, fmt.Sprintf("%-34s %-4s %6.1fs", s.name, map[bool]string{true: "ok", false: "FAIL"}[ok], time.Since(start).Seconds()))
		}
		if !m.Running() { // a failed MinIO scenario must not take the others down
			if err := m.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("scenarios:\n%s", strings.Join(report, "\n"))
}

// overlay is a kustomize directory under deploy/k8s, or under
// CLUSTER_DEPLOY (another checkout's deploy/k8s holding these overlays, to
// run the scenarios against an older commit's manifests and image).
func overlay(name string) string {
	if d := os.Getenv("CLUSTER_DEPLOY"); d != "" {
		return filepath.Join(d, name)
	}
	return filepath.Join(cfg.repo, "deploy", "k8s", name)
}

// apply applies an overlay and returns kubectl's stdout (what it applied)
// and stderr (admission warnings).
func apply(t *testing.T, name string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := kubectl("apply", "-k", overlay(name))
	if err != nil {
		t.Fatal(err)
	}
	return stdout, stderr
}

var applyWarnings string // stderr of the first apply, for the PodSecurity scenario

// firstBoot: empty replica, restore proves it new and exits 0, the app
// creates the database, the pod becomes Ready and the replica fills. The
// node has no Prometheus Operator (requireBare): the example applies whole
// without it.
func firstBoot(t *testing.T) {
	requireBare(t)
	var out string
	out, applyWarnings = apply(t, "test-cluster")
	t.Logf("kubectl apply -k deploy/k8s/test-cluster on a cluster without the operators' CRDs:\n%s%s", out, applyWarnings)
	noMonitoring(t, "kubectl apply", out+applyWarnings)
	checkFirstBoot(t)
}

// checkFirstBoot is firstBoot after the apply, shared with the Terraform
// path (terraform_test.go), which applies the same pod its own way.
func checkFirstBoot(t *testing.T) {
	p := waitPod(t, 3*time.Minute, "a Ready pod", (*pod).ready)
	r := p.container("restore")
	if r == nil || r.State.Terminated == nil || r.State.Terminated.ExitCode != 0 || r.RestartCount != 0 {
		t.Fatalf("restore did not exit 0 on its first run: %s", p)
	}
	if log := mustKubectl(t, "-n", namespace, "logs", p.Metadata.Name, "-c", "restore"); !strings.Contains(log, "replica holds no backup") {
		t.Errorf("restore did not prove the replica new:\n%s", log)
	}
	if s := appStart(t, p); s.rows != 0 {
		t.Errorf("first boot: app started with %d rows, want a new database", s.rows)
	}
	if c := p.container("replicate"); !c.Ready || c.RestartCount != 0 {
		t.Errorf("sidecar not ready or restarted: %s", p)
	}
	if log := mustKubectl(t, "-n", namespace, "logs", p.Metadata.Name, "-c", "replicate"); !strings.Contains(log, "waiting for the database to appear") {
		t.Errorf("sidecar did not wait for the app to create the database:\n%s", log)
	}
	waitRowsAtLeast(t, p, 20)
	waitReplicaRows(t, 20)
}

// restrictedPodSecurity: the namespace enforces restricted, the pod was
// admitted, and neither the apply nor a server-side dry run of the label
// (which evaluates the running pods) warns.
func restrictedPodSecurity(t *testing.T) {
	labels := mustKubectl(t, "get", "namespace", namespace, "-o", "jsonpath={.metadata.labels}")
	if !strings.Contains(labels, `"pod-security.kubernetes.io/enforce":"restricted"`) {
		t.Fatalf("namespace not labelled restricted: %s", labels)
	}
	if strings.Contains(applyWarnings, "Warning") {
		t.Errorf("kubectl apply warned:\n%s", applyWarnings)
	}
	_, stderr, err := kubectl("label", "--dry-run=server", "--overwrite", "namespace", namespace,
		"pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "Warning") {
		t.Errorf("running pods violate restricted:\n%s", stderr)
	}
	ensureReady(t)
}

func deletePod(t *testing.T, p *pod) {
	mustKubectl(t, "-n", namespace, "delete", "pod", p.Metadata.Name, "--wait=false")
}

// evictPod posts an Eviction, what `kubectl drain` does.
func evictPod(t *testing.T, p *pod) {
	f := filepath.Join(t.TempDir(), "eviction.json")
	body := fmt.Sprintf(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":%q,"namespace":%q}}`, p.Metadata.Name, namespace)
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "create", "--raw", "/api/v1/namespaces/"+namespace+"/pods/"+p.Metadata.Name+"/eviction", "-f", f)
}

// replaceWhileWriting: the pod goes away while its app writes (and keeps
// writing 8 s after SIGTERM); the app is stopped before the sidecar, whose
// final sync carries every row; the replacement's app starts with exactly
// the predecessor's final rows and its sidecar is ready, never restarted.
func replaceWhileWriting(t *testing.T, disrupt func(*testing.T, *pod)) {
	old := ensureReady(t)
	n, _ := appRows(old)
	waitRowsAtLeast(t, old, n+20)
	app := followLogs(t, old.Metadata.Name, "app")
	side := followLogs(t, old.Metadata.Name, "replicate")
	t0 := time.Now()
	disrupt(t, old)
	finalAt, fm := app.wait(t, finalRe, 90*time.Second)
	final := parseSummary(fm)
	sigAt, _ := side.wait(t, regexp.MustCompile(`signal received, final sync`), 90*time.Second)
	syncAt, _ := side.wait(t, regexp.MustCompile(`final sync done`), 60*time.Second)
	if sigAt.Before(finalAt) {
		t.Errorf("sidecar got SIGTERM at %s, before the app's last commit at %s", sigAt.Format(time.TimeOnly), finalAt.Format(time.TimeOnly))
	}
	nw := waitReplacement(t, old.Metadata.UID, final)
	// Who waited for what (docs/handover.md "Timeline after the fix"):
	// the replacement's restore starts at once and waits for the
	// predecessor's lease.
	since := func(at time.Time) float64 { return at.Sub(t0).Seconds() }
	restore, appC := nw.container("restore").State.Terminated, nw.container("app").State.Running
	t.Logf("timeline from the disruption: old app last commit (rows=%d) +%.1fs, old sidecar SIGTERM +%.1fs, final sync done +%.1fs; "+
		"new restore ran +%.1fs..+%.1fs, new app started +%.1fs, new pod Ready +%.1fs",
		final.rows, since(finalAt), since(sigAt), since(syncAt), since(restore.StartedAt), since(restore.FinishedAt), since(appC.StartedAt), time.Since(t0).Seconds())
	// Everything the predecessor committed is in the replica, followed by
	// what the replacement writes.
	waitRowsAtLeast(t, nw, final.rows+20)
	rows := waitReplicaRows(t, final.rows+20)
	if got := summarize(rows[:final.rows]); got != final {
		t.Errorf("replica's first %d rows differ from the predecessor's final state (%s vs %s)", final.rows, got.sum, final.sum)
	}
	if next := rows[final.rows]; !strings.HasSuffix(next, " by "+nw.Metadata.Name) {
		t.Errorf("replica's row after the predecessor's last is %q, not the replacement's (%s)", next, nw.Metadata.Name)
	}
}

// waitReplacement waits for the Ready pod that replaced oldUID, checking
// on the way that its app started on the predecessor's final state and
// failing at once if its sidecar exits.
func waitReplacement(t *testing.T, oldUID string, final summary) *pod {
	t.Helper()
	checked := false
	return waitPod(t, 3*time.Minute, "a Ready replacement pod", func(q *pod) bool {
		if q.Metadata.UID == oldUID {
			return false
		}
		if c := q.container("replicate"); c != nil {
			if term := exited(c); term != nil {
				prev, _, _ := kubectl("-n", namespace, "logs", q.Metadata.Name, "-c", "replicate", "--previous", "--tail=5")
				t.Fatalf("replacement's sidecar exited %d (%s): %s\n%s", term.ExitCode, term.Reason, q, prev)
			}
		}
		if a := q.container("app"); a != nil && a.State.Running != nil && !checked {
			checked = true
			if s := appStart(t, q); s != final {
				t.Errorf("replacement's app started with rows=%d, the predecessor's final sync had rows=%d (docs/handover.md)", s.rows, final.rows)
			}
		}
		if !q.ready() {
			return false
		}
		if c := q.container("replicate"); c.RestartCount != 0 {
			t.Errorf("replacement's sidecar restarted %d times", c.RestartCount)
		}
		return true
	})
}

// exited is a container's non-zero exit, current or previous.
func exited(c *containerStatus) *terminated {
	for _, s := range []*terminated{c.State.Terminated, c.LastState.Terminated} {
		if s != nil && s.ExitCode != 0 {
			return s
		}
	}
	return nil
}

// sidecarCrash: replicate is killed through the runtime; the kubelet
// restarts it, it takes its own lease back at once, and the replica
// catches up with every row the app committed meanwhile.
func sidecarCrash(t *testing.T) {
	p := ensureReady(t)
	c := p.container("replicate")
	id := strings.TrimPrefix(c.ContainerID, "containerd://")
	out, err := exec.Command("ctr", "--address", cfg.ctrAddress, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr tasks kill %s: %v: %s", id, err, out)
	}
	killed := time.Now()
	q := waitPod(t, 2*time.Minute, "sidecar restarted and ready", func(q *pod) bool {
		r := q.container("replicate")
		return q.Metadata.UID == p.Metadata.UID && r.RestartCount == c.RestartCount+1 && r.Ready
	})
	r := q.container("replicate")
	if r.LastState.Terminated == nil || r.LastState.Terminated.ExitCode != 137 {
		t.Errorf("sidecar's last state is not the SIGKILL (exit 137): %s", q)
	}
	// "At once": well inside the lease's 30 s TTL, which a sidecar that did
	// not recognise its own dead predecessor would have to wait out.
	side := followLogs(t, q.Metadata.Name, "replicate")
	leaseAt, _ := side.wait(t, regexp.MustCompile(`"msg":"lease acquired"`), 10*time.Second)
	if wait := leaseAt.Sub(r.State.Running.StartedAt); wait > 10*time.Second {
		t.Errorf("restarted sidecar took its lease %s after starting: it waited for its own lease", wait)
	}
	if _, m := side.find(regexp.MustCompile(`waiting for the single-writer lease`)); m != nil {
		t.Errorf("restarted sidecar waited for its own lease:\n%s", side.text())
	}
	t.Logf("sidecar ready again %.1fs after the kill", time.Since(killed).Seconds())
	n, err := appRows(q)
	if err != nil {
		t.Fatal(err)
	}
	rows := waitReplicaRows(t, n)
	for i, r := range rows {
		if !strings.HasPrefix(r, fmt.Sprintf("%d:row %d by ", i+1, i+1)) {
			t.Fatalf("replica row %d is %q: a row was lost", i+1, r)
		}
	}
}
