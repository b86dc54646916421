package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// pollEvery is how often the waits ask. It is short because some tests time
// what follows readiness (a SIGTERM before the sidecar's first sync).
const pollEvery = 10 * time.Millisecond

// client bounds every request, so that a server that accepts and never
// answers turns into a failed poll, not a hung test.
var client = http.Client{Timeout: 5 * time.Second}

// WaitHTTP polls url until it answers 200. It gives up after timeout, or
// as soon as p (when not nil) has exited: a dead process will not answer,
// and its output says why.
func WaitHTTP(url string, timeout time.Duration, p *Process) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		if p != nil {
			if ok, code := p.Exited(); ok {
				return fmt.Errorf("%s exited %d before %s answered 200", filepath.Base(p.cmd.Path), code, url)
			}
		}
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s (last: %s)", url, timeout, last)
		}
		time.Sleep(pollEvery)
	}
}

// WaitReady polls the sidecar's /readyz at addr until it answers 200 (see
// WaitHTTP for p).
func WaitReady(addr string, timeout time.Duration, p *Process) error {
	return WaitHTTP("http://"+addr+"/readyz", timeout, p)
}

// GetJSON fetches url and decodes its JSON body into v; it returns the
// HTTP status code, 0 when nothing answered.
func GetJSON(url string, v any) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return resp.StatusCode, fmt.Errorf("%s: %w", url, err)
	}
	return resp.StatusCode, nil
}

// ReadStatus reads the sidecar's /status at addr into the type the server
// encodes. code is 0 when nothing answered; an error with a code is a body
// that is not that JSON.
func ReadStatus(addr string) (st telemetry.Status, code int, err error) {
	code, err = GetJSON("http://"+addr+"/status", &st)
	return st, code, err
}
