package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
)

// MaxSkew is how far this node's clock may provably be off the store's
// (answer.Skew.Sure) before the sidecar neither takes nor keeps the lease.
// The lease's expiry is written by the holder's clock and read by the next
// writer's, and the holder stops uploading Margin before it: two writers
// whose clocks each pass this check differ by at most
// 2 × (MaxSkew + Date's 1 s resolution) = Margin, plus the round trips.
// Measuring needs no extra request: every lease request's Date is read.
const MaxSkew = Margin/2 - time.Second

// ErrClockSkew: this node's clock is off the store's by more than MaxSkew.
var ErrClockSkew = errors.New("clock skew beyond the single-writer lease's margin")

// Skew is the latest measurement of the store's clock against ours; ok is
// false before the first (or for a store that measures nothing).
func (l *Lease) Skew() (s answer.Skew, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.skew == nil {
		return answer.Skew{}, false
	}
	return *l.skew, true
}

// measured keeps the clock measurement an answer carried; an answer with
// none (a store that measures nothing) leaves the last one.
func (l *Lease) measured(s *answer.Skew) {
	if s == nil {
		return
	}
	l.mu.Lock()
	l.skew = s
	l.mu.Unlock()
}

// skewErr returns ErrClockSkew, naming the skew and the store, when the
// latest measurement proves the skew beyond MaxSkew; nil otherwise.
func (l *Lease) skewErr() error {
	s, ok := l.Skew()
	if !ok {
		return nil
	}
	sure := s.Sure().Abs()
	if sure <= MaxSkew {
		return nil
	}
	way := "behind"
	if s.Offset < 0 {
		way = "ahead of"
	}
	return fmt.Errorf("%w: this node's clock is %s %s the object store's at %s (from the Date of its responses; at least %s beyond their 1 s resolution), and the lease tolerates %s: "+
		"fix the node's time sync (chrony, ntpd, systemd-timesyncd)",
		ErrClockSkew, s.Offset.Abs().Round(100*time.Millisecond), way, l.store.Endpoint(), sure.Round(100*time.Millisecond), MaxSkew)
}

// Problem returns why the lease is stood down (ErrClockSkew, naming the
// skew), nil when it is not: /readyz and /status say it instead of "not
// renewed".
func (l *Lease) Problem() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.parked {
		return nil
	}
	return l.why
}

// standDown stops holding the lease because of why (a clock skew): the
// upload gate (Valid) closes at once, and the lease object is marked
// expired at the zero time, which every clock has passed, conditionally
// on our ETag, so that an expiry written by a skewed clock does not hold
// off (clock ahead) or fail to hold off (clock behind) the next writer,
// and a lease someone else took is never touched. The ETag stays ours:
// if nobody takes the lease meanwhile, a renewal with the clock back
// within MaxSkew takes it back with If-Match, which proves that nobody
// wrote in between (resume); if someone did, that renewal gets ErrLost.
// It returns why, or ErrLost.
func (l *Lease) standDown(ctx context.Context, doc Doc, etag string, why error) error {
	l.mu.Lock()
	l.parked, l.why, l.holder, l.until = true, why, "", time.Time{}
	l.mu.Unlock()
	doc.ExpiresAt = time.Time{}
	newTag, err := l.write(ctx, doc, etag)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case errors.Is(err, ErrLost):
		l.etag = ""
		return err
	case err == nil:
		l.doc, l.etag = doc, newTag
	}
	// Not written (store down, object gone): the next renewal tries again.
	return why
}

// resume checks, before a stood-down lease is renewed, that the object
// is still the one we marked expired (ErrLost when another writer took it
// meanwhile); the read also measures the clock afresh.
func (l *Lease) resume(ctx context.Context, etag string) error {
	cur, curTag, skew, err := read(ctx, l.store)
	l.measured(skew)
	if err != nil {
		return err
	}
	if cur != nil && curTag != etag {
		l.mu.Lock()
		l.etag, l.holder, l.until = "", cur.Owner, cur.ExpiresAt
		l.mu.Unlock()
		return fmt.Errorf("%w: taken by %s while this sidecar stood down", ErrLost, cur.Owner)
	}
	return nil
}

// Endpoint is the store's endpoint, for the lines that name the store.
func (l *Lease) Endpoint() string { return l.store.Endpoint() }
