package testenv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Process is a long-running binary under test (the sidecar, a writer,
// MinIO). Its output is collected in a LockedBuffer: os/exec writes it from
// its own goroutine while tests read it.
type Process struct {
	cmd  *exec.Cmd
	out  LockedBuffer
	done chan struct{}
	code int            // set before done is closed
	sig  syscall.Signal // the signal that ended it, 0 if it exited; set before done is closed
}

// StartProcess starts bin with exactly env (plus PATH and HOME): a test
// states every variable the binary sees, as an orchestrator does.
func StartProcess(bin string, env []string, args ...string) (*Process, error) {
	return StartProcessTee(nil, bin, env, args...)
}

// StartProcessTee is StartProcess that also copies the output to tee as it
// is written (nil: nowhere), for a caller that shows it live (the bench).
func StartProcessTee(tee io.Writer, bin string, env []string, args ...string) (*Process, error) {
	p := &Process{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var w io.Writer = &p.out
	if tee != nil {
		w = io.MultiWriter(&p.out, tee)
	}
	// One writer for both streams: os/exec then calls it from one
	// goroutine at a time, and the output keeps the process's order.
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.sig = ws.Signal()
		}
		close(p.done)
	}()
	return p, nil
}

// Output is everything the process printed so far, stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and its code.
func (p *Process) Exited() (bool, int) {
	select {
	case <-p.done:
		return true, p.code
	default:
		return false, 0
	}
}

// KilledBy is the signal that ended the process, or 0 if it is still
// running or exited on its own.
func (p *Process) KilledBy() syscall.Signal {
	select {
	case <-p.done:
		return p.sig
	default:
		return 0
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 when killed by a signal), or an error if it still runs.
func (p *Process) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.code, nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("%s still running after %s", filepath.Base(p.cmd.Path), timeout)
	}
}

// Signal sends sig and waits up to timeout for the exit; it returns the
// exit code (-1 when killed by a signal) or an error on timeout.
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) (int, error) {
	p.cmd.Process.Signal(sig)
	code, err := p.Wait(timeout)
	if err != nil {
		return 0, fmt.Errorf("%s did not exit within %s of %s", filepath.Base(p.cmd.Path), timeout, sig)
	}
	return code, nil
}

// Terminate stops the process as an orchestrator does: SIGTERM, then
// SIGKILL if it still runs after grace. It returns the exit code.
func (p *Process) Terminate(grace time.Duration) int {
	if code, err := p.Signal(syscall.SIGTERM, grace); err == nil {
		return code
	}
	p.Kill()
	return p.code
}

// Kill ends the process with SIGKILL and waits for it; on a process that
// has already exited it only returns.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// LockedBuffer collects a process's output for tests that read it while
// the process still writes (os/exec writes from its own goroutine).
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
