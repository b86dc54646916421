//go:build cluster

package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// pod is the part of a Pod's JSON the scenarios read.
type pod struct {
	Metadata struct {
		Name              string  `json:"name"`
		UID               string  `json:"uid"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Status struct {
		Phase      string `json:"phase"`
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		InitContainerStatuses []containerStatus `json:"initContainerStatuses"`
		ContainerStatuses     []containerStatus `json:"containerStatuses"`
	} `json:"status"`
}

type containerStatus struct {
	Name         string         `json:"name"`
	Ready        bool           `json:"ready"`
	Started      *bool          `json:"started"`
	RestartCount int            `json:"restartCount"`
	ContainerID  string         `json:"containerID"`
	State        containerState `json:"state"`
	LastState    containerState `json:"lastState"`
}

type containerState struct {
	Running *struct {
		StartedAt time.Time `json:"startedAt"`
	} `json:"running"`
	Waiting *struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"waiting"`
	Terminated *terminated `json:"terminated"`
}

type terminated struct {
	ExitCode   int       `json:"exitCode"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

func (p *pod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// container finds a container's status, init containers (restore, the
// native sidecar replicate) included.
func (p *pod) container(name string) *containerStatus {
	for _, list := range [][]containerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func (p *pod) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s phase=%s ready=%v", p.Metadata.Name, p.Status.Phase, p.ready())
	for _, c := range append(append([]containerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, " [%s ready=%v restarts=%d", c.Name, c.Ready, c.RestartCount)
		for _, s := range []struct {
			n string
			s containerState
		}{{"state", c.State}, {"last", c.LastState}} {
			switch {
			case s.s.Running != nil:
				fmt.Fprintf(&b, " %s=running", s.n)
			case s.s.Waiting != nil:
				fmt.Fprintf(&b, " %s=waiting(%s)", s.n, s.s.Waiting.Reason)
			case s.s.Terminated != nil:
				fmt.Fprintf(&b, " %s=exit(%d)", s.n, s.s.Terminated.ExitCode)
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

// kubectl runs kubectl against the test cluster; stderr is returned apart
// because admission warnings arrive there.
func kubectl(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(cfg.kubectl, append([]string{"--kubeconfig", cfg.kubeconfig}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, e.String())
	}
	return o.String(), e.String(), err
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := kubectl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pods lists the app's pods, terminating ones included.
func pods(t *testing.T) []pod {
	t.Helper()
	var list struct {
		Items []pod `json:"items"`
	}
	if err := json.Unmarshal([]byte(mustKubectl(t, "-n", namespace, "get", "pods", "-l", podLabel, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitPod polls the app's pods until ok accepts one (not terminating),
// failing with the pods' state and the namespace's events after timeout.
func waitPod(t *testing.T, timeout time.Duration, desc string, ok func(*pod) bool) *pod {
	t.Helper()
	var last []pod
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		last = pods(t)
		for i := range last {
			if last[i].Metadata.DeletionTimestamp == nil && ok(&last[i]) {
				return &last[i]
			}
		}
	}
	var states []string
	for i := range last {
		states = append(states, last[i].String())
	}
	ev, _, _ := kubectl("-n", namespace, "get", "events", "--sort-by=.lastTimestamp")
	t.Fatalf("timed out after %s waiting for %s; pods: %s\nevents:\n%s", timeout, desc, strings.Join(states, "; "), ev)
	return nil
}

// waitGone waits until no pod of the app is left, terminating or not.
func waitGone(t *testing.T, timeout time.Duration) {
	t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if len(pods(t)) == 0 {
			return
		}
	}
	t.Fatalf("pods still present after %s", timeout)
}

// appRows asks the running app (the stand-in) how many rows it has, on
// the pod's IP: the test runs inside the cluster's network namespace.
func appRows(p *pod) (int, error) {
	resp, err := http.Get("http://" + p.Status.PodIP + ":5055/api/v1/status")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Rows int `json:"rows"`
	}
	return st.Rows, json.NewDecoder(resp.Body).Decode(&st)
}

// logStream follows one container's log (kubectl logs -f --timestamps)
// from before a disruption until the container exits.
type logStream struct{ p *testenv.Process }

func followLogs(t *testing.T, podName, container string) *logStream {
	t.Helper()
	p, err := testenv.StartProcess(cfg.kubectl, os.Environ(),
		"--kubeconfig", cfg.kubeconfig, "-n", namespace, "logs", "-f", "--timestamps", podName, "-c", container)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return &logStream{p: p}
}

// wait returns the first line matching re (with its kubelet timestamp),
// waiting up to timeout or until the stream ends.
func (s *logStream) wait(t *testing.T, re *regexp.Regexp, timeout time.Duration) (time.Time, []string) {
	t.Helper()
	end := time.After(timeout)
	for {
		ended, _ := s.p.Exited() // before find: once ended, find reads every line
		if at, m := s.find(re); m != nil {
			return at, m
		}
		if ended {
			t.Fatalf("log ended without a line matching %q:\n%s", re, s.text())
		}
		select {
		case <-end:
			t.Fatalf("no log line matching %q within %s:\n%s", re, timeout, s.text())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// find looks for re in the complete lines so far: all of them once the
// stream has ended, else up to the last newline, so that a line still
// being written is not matched in part.
func (s *logStream) find(re *regexp.Regexp) (time.Time, []string) {
	ended, _ := s.p.Exited() // before Output: an ended process's output is complete
	out := s.p.Output()
	if !ended {
		out = out[:strings.LastIndexByte(out, '\n')+1]
	}
	for _, l := range strings.Split(out, "\n") {
		ts, text, _ := strings.Cut(l, " ")
		if m := re.FindStringSubmatch(text); m != nil {
			at, _ := time.Parse(time.RFC3339Nano, ts)
			return at, m
		}
	}
	return time.Time{}, nil
}

func (s *logStream) text() string { return strings.TrimRight(s.p.Output(), "\n") }

// summaryLine is the stand-in's `start|final rows=N sum=S`.
var (
	startRe = regexp.MustCompile(`start rows=(\d+) sum=([0-9a-f]{64})`)
	finalRe = regexp.MustCompile(`final rows=(\d+) sum=([0-9a-f]{64})`)
)

type summary struct {
	rows int
	sum  string
}

func parseSummary(m []string) summary {
	n, _ := strconv.Atoi(m[1])
	return summary{rows: n, sum: m[2]}
}

// summarize computes the stand-in's summary of rows as testenv.Rows
// returns them ("id:body"), so a replica's copy compares with a log line.
func summarize(rows []string) summary {
	h := sha256.New()
	for _, r := range rows {
		fmt.Fprintf(h, "%s\n", r)
	}
	return summary{rows: len(rows), sum: hex.EncodeToString(h.Sum(nil))}
}

// appStart is the stand-in's start line in a pod (the current container).
func appStart(t *testing.T, p *pod) summary {
	t.Helper()
	out := mustKubectl(t, "-n", namespace, "logs", p.Metadata.Name, "-c", "app")
	m := startRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no start line in %s's app log:\n%s", p.Metadata.Name, out)
	}
	return parseSummary(m)
}
