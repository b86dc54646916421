package bucket

import (
	"net/http"
	"sync"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
)

// Skew is one measurement of the store's clock against ours
// (answer.Skew): the lease reads it in the answers of its requests.
type Skew = answer.Skew

// Clock keeps the skew measured on a store's responses. One Date says
// the offset only to within a second; the clocks' offset barely moves
// between requests, so Clock intersects the intervals of the last few
// measurements, which narrows it to the true offset. A measurement that
// no longer fits (a clock stepped by NTP, or by hand) starts afresh. The
// zero value is ready; a nil *Clock measures nothing.
type Clock struct {
	mu     sync.Mutex
	recent []Skew // newest last, at most clockWindow, pairwise overlapping
}

// clockWindow is how many measurements Clock combines: a minute of lease
// renewals.
const clockWindow = 6

// Last returns the skew of the recent measurements combined; ok is false
// before the first.
func (c *Clock) Last() (s Skew, ok bool) {
	if c == nil {
		return Skew{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.recent) == 0 {
		return Skew{}, false
	}
	lo, hi := bounds(c.recent[0])
	for _, m := range c.recent[1:] {
		l, h := bounds(m)
		lo, hi = max(lo, l), min(hi, h)
	}
	return Skew{Offset: (lo + hi) / 2, Slack: (hi - lo) / 2, At: c.recent[len(c.recent)-1].At}, true
}

func bounds(s Skew) (lo, hi time.Duration) { return s.Offset - s.Slack, s.Offset + s.Slack }

// observe records the Date of a response sent at t0 whose headers came
// back at t1; a missing or unparsable Date is ignored.
func (c *Clock) observe(date string, t0, t1 time.Time) {
	d, err := http.ParseTime(date)
	if date == "" || err != nil {
		return
	}
	s := answer.FromDate(d, t0, t1)
	lo, hi := bounds(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := c.recent[:0]
	for _, m := range c.recent {
		if l, h := bounds(m); l <= hi && lo <= h {
			keep = append(keep, m)
		} else {
			keep = keep[:0] // s contradicts m: a clock moved since; older ones go too
		}
	}
	c.recent = append(keep, s)
	if len(c.recent) > clockWindow {
		c.recent = c.recent[1:]
	}
}

// clockTransport measures the skew on every response that passes through
// it, so that every lease request (acquire, renewal, the probe) is also a
// clock check, at no extra request.
type clockTransport struct {
	next  http.RoundTripper
	clock *Clock
}

func (t *clockTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t0 := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		t.clock.observe(resp.Header.Get("Date"), t0, time.Now())
	}
	return resp, err
}
