package bucket

import (
	"net/http"
	"sync"
	"time"
)

// dateResolution is the resolution of an HTTP Date header: whole seconds,
// truncated (RFC 9110 IMF-fixdate).
const dateResolution = time.Second

// Skew is one measurement of the store's clock against ours, taken from a
// response's Date header. The lease compares expiry times one node's clock
// wrote with another node's clock (pkg/lease), so the store, which every
// writer talks to, is the common reference.
//
// The store stamped Date at some instant between our send (t0) and our
// receipt of the headers (t1), and truncated it to the second, so its
// clock minus ours lies in [Date - t1, Date + 1 s - t0]: Offset is the
// middle of that interval and Slack half its width. A measurement never
// claims more than it knows: Sure is the part of the offset that lies
// outside the interval's uncertainty.
type Skew struct {
	// Offset is the store's clock minus ours, best estimate: positive when
	// our clock is behind the store's.
	Offset time.Duration
	// Slack is half the width of the interval the true offset lies in:
	// for one response, half of Date's one second plus half the round
	// trip; less for several combined (Clock).
	Slack time.Duration
	At    time.Time // our receipt of the response
}

// Sure is the offset the measurement proves: the end of the interval
// nearest to zero, or 0 when the interval contains zero (no skew that
// Date's resolution and the round trip could not explain).
func (s Skew) Sure() time.Duration {
	switch lo, hi := s.Offset-s.Slack, s.Offset+s.Slack; {
	case lo > 0:
		return lo
	case hi < 0:
		return hi
	}
	return 0
}

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
	rtt := t1.Sub(t0) // monotonic
	mid := t0.Add(rtt / 2)
	// d carries no monotonic reading, so this is a wall-clock difference,
	// which is what the lease's expiry times are.
	s := Skew{Offset: d.Add(dateResolution / 2).Sub(mid), Slack: (dateResolution + rtt) / 2, At: t1}
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
