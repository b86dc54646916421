// Package answer is what an object store said to one request, as plain
// values: a small object with its ETag, the outcome of a conditional put,
// and the store's clock as measured on its responses. pkg/bucket, the only
// package that speaks S3, answers in these words; a package that depends on
// a store through an interface of its own (pkg/lease's Store) reads them
// without importing the S3 client, and its tests' fakes can give any answer
// a real store gives.
package answer

import "time"

// Object is a small object read whole with one request.
type Object struct {
	Body []byte
	// ETag is the one of the response that carried Body: no second
	// request, so it cannot belong to a newer version.
	ETag string
	// Found is false when there is no object at the key: an answer, not
	// an error.
	Found bool
	// Skew is the store's clock against ours as measured up to this
	// answer; nil before any measurement.
	Skew *Skew
}

// Outcome is how a store answered a conditional put.
type Outcome int

const (
	// Written: the condition held and the object is written.
	Written Outcome = iota
	// PreconditionFailed: the condition did not hold (412, or 409 when a
	// concurrent conditional write won); nothing was written.
	PreconditionFailed
	// NotFound: If-Match on a key that holds no object; nothing was
	// written.
	NotFound
)

func (o Outcome) String() string {
	switch o {
	case Written:
		return "written"
	case PreconditionFailed:
		return "precondition failed"
	case NotFound:
		return "not found"
	}
	return "unknown outcome"
}

// Put is a store's answer to a conditional put.
type Put struct {
	Outcome Outcome
	ETag    string // of the object written; "" unless Written
	// Skew is the store's clock against ours as measured up to this
	// answer; nil before any measurement.
	Skew *Skew
}

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
	// trip; less for several combined (bucket.Clock).
	Slack time.Duration
	At    time.Time // our receipt of the response
}

// FromDate is the measurement a response stamped date carries, sent at t0
// and its headers received at t1.
func FromDate(date, t0, t1 time.Time) Skew {
	rtt := t1.Sub(t0) // monotonic
	mid := t0.Add(rtt / 2)
	// date carries no monotonic reading, so this is a wall-clock
	// difference, which is what the lease's expiry times are.
	return Skew{Offset: date.Add(dateResolution / 2).Sub(mid), Slack: (dateResolution + rtt) / 2, At: t1}
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
