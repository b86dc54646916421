//go:build cluster

package cluster

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// minioDownAtStart: the pod starts while MinIO is down; restore exits 69
// with its one-line reason as the termination message, the kubelet retries
// it, and once MinIO is back the pod starts with the replica's data.
func minioDownAtStart(t *testing.T, m *testenv.MinIO) {
	p := ensureReady(t)
	final := stopApp(t, p)
	m.Stop()
	mustKubectl(t, "-n", namespace, "scale", "deployment", deployment, "--replicas=1")
	down := time.Now()
	q := waitPod(t, 3*time.Minute, "restore exited 69 and retried", func(q *pod) bool {
		r := q.container("restore")
		return r != nil && r.LastState.Terminated != nil && r.LastState.Terminated.ExitCode == 69
	})
	term := q.container("restore").LastState.Terminated
	msg := strings.TrimSpace(term.Message)
	if msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("termination message is not one line: %q", term.Message)
	}
	// What kubectl describe shows must name the setting, the endpoint and
	// the cause, not only "context deadline exceeded".
	for _, want := range []string{"RESTORE_TIMEOUT=", "S3 endpoint http://", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("termination message lacks %q: %s", want, msg)
		}
	}
	t.Logf("restore exited 69 after %.1fs: %s", term.FinishedAt.Sub(down).Seconds(), msg)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	r := waitPod(t, 3*time.Minute, "a Ready pod once MinIO is back", (*pod).ready)
	t.Logf("pod Ready %.1fs after MinIO came back, restore restarts=%d", time.Since(up).Seconds(), r.container("restore").RestartCount)
	if s := appStart(t, r); s != final {
		t.Errorf("app started with rows=%d, the replica had rows=%d", s.rows, final.rows)
	}
}

// lineageGuard: an overlay without the restore init container, at a prefix
// holding data. DB_PATH is missing while the replica holds a backup, so the
// sidecar must keep the app's startup gate shut (/startupz) and say why: an
// ERROR line and state behind_replica in /status, the app container never
// started, the pod not Ready, the backup intact; the real overlay then
// restores all of it.
func lineageGuard(t *testing.T) {
	p := ensureReady(t)
	app := followLogs(t, p.Metadata.Name, "app")
	apply(t, "test-cluster-noinit") // the Deployment changes: Recreate stops the old pod first
	_, fm := app.wait(t, finalRe, 90*time.Second)
	final := parseSummary(fm)
	errorLine := regexp.MustCompile(`"level":"ERROR"`)
	var how string
	q := waitPod(t, 3*time.Minute, "the sidecar refusing the unrestored copy", func(q *pod) bool {
		c := q.container("replicate")
		if q.Metadata.UID == p.Metadata.UID || c == nil {
			return false
		}
		if term := exited(c); term != nil {
			t.Errorf("sidecar exited %d; it must stay up holding the startup gate shut: %s", term.ExitCode, q)
			return true
		}
		if c.State.Running == nil {
			return false
		}
		log, _, _ := kubectl("-n", namespace, "logs", q.Metadata.Name, "-c", "replicate")
		if l := errorLine.FindString(log); l != "" {
			how = lastMatchingLine(log, errorLine)
			return true
		}
		return false
	})
	t.Logf("refused: %s", how)
	if q.ready() {
		t.Errorf("pod is Ready although its sidecar refuses: %s", q)
	}
	if a := q.container("app"); a != nil && (a.State.Running != nil || a.State.Terminated != nil || a.LastState.Terminated != nil) {
		t.Errorf("the app started on an unrestored copy: %s", q)
	}
	st, err := sidecarStatus(q)
	if err != nil {
		t.Fatalf("sidecar /status: %v", err)
	}
	if st.State != "behind_replica" || st.Started {
		t.Errorf("sidecar /status does not hold the gate shut as behind_replica: %+v", st)
	}
	rows, err := replicaRows(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := summarize(rows); got != final {
		t.Errorf("backup changed under the refusing sidecar: rows=%d, want rows=%d", got.rows, final.rows)
	}
	apply(t, "test-cluster")
	r := waitPod(t, 3*time.Minute, "a Ready pod restored by the real overlay", func(r *pod) bool {
		return r.Metadata.UID != q.Metadata.UID && r.ready()
	})
	if s := appStart(t, r); s != final {
		t.Errorf("restored app started with rows=%d, the backup had rows=%d", s.rows, final.rows)
	}
}

func lastMatchingLine(text string, re *regexp.Regexp) string {
	lines := strings.Split(text, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if re.MatchString(lines[i]) {
			return lines[i]
		}
	}
	return ""
}

// sidecarStatus is the sidecar's /status, read on the pod's IP.
func sidecarStatus(p *pod) (telemetry.Status, error) {
	st, code, err := testenv.ReadStatus(p.Status.PodIP + ":9090")
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("/status answered %d", code)
	}
	return st, err
}

// stopApp scales the Deployment to 0 and returns the app's final state
// once the pod (and its sidecar's final sync) is gone.
func stopApp(t *testing.T, p *pod) summary {
	t.Helper()
	app := followLogs(t, p.Metadata.Name, "app")
	mustKubectl(t, "-n", namespace, "scale", "deployment", deployment, "--replicas=0")
	_, fm := app.wait(t, finalRe, 90*time.Second)
	waitGone(t, 2*time.Minute)
	return parseSummary(fm)
}

// ensureReady returns the Ready pod, or recreates one from the replica
// with the real overlay when a failed scenario left none.
func ensureReady(t *testing.T) *pod {
	t.Helper()
	for _, p := range pods(t) {
		if p.Metadata.DeletionTimestamp == nil && p.ready() {
			return &p
		}
	}
	t.Logf("no Ready pod: recreating it from the replica")
	mustKubectl(t, "-n", namespace, "scale", "deployment", deployment, "--replicas=0")
	waitGone(t, 2*time.Minute)
	apply(t, "test-cluster")
	return waitPod(t, 3*time.Minute, "a Ready pod", (*pod).ready)
}

// waitRowsAtLeast waits until the running app reports n rows or more.
func waitRowsAtLeast(t *testing.T, p *pod, n int) {
	t.Helper()
	var got int
	var err error
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if got, err = appRows(p); err == nil && got >= n {
			return
		}
	}
	t.Fatalf("app in %s has %d rows (err %v), want >= %d", p.Metadata.Name, got, err, n)
}

// waitReplicaRows waits until a restore of the replica holds n rows or
// more, and returns them.
func waitReplicaRows(t *testing.T, n int) []string {
	t.Helper()
	var rows []string
	var err error
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(time.Second) {
		if rows, err = replicaRows(t); err == nil && len(rows) >= n {
			return rows
		}
	}
	t.Fatalf("replica holds %d rows after a minute (last error: %v), want >= %d", len(rows), err, n)
	return nil
}
