// Package lease is the single-writer lease on a replica prefix: the object
// <prefix>/lock.json, kept with S3 conditional writes. The sidecar holds it
// while it may upload; restore reads it to wait for a writer that is still
// stopping (its final sync) before it restores.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
)

// Lease timing. The lease object lives at <prefix>/lock.json, the key and
// JSON shape of Litestream's own s3.Leaser, so an upstream litestream
// process on the same prefix sees it too.
const (
	TTL = 30 * time.Second
	// RenewEvery is well inside the TTL: two renewals may fail before the
	// lease runs out.
	RenewEvery = TTL / 3
	// Retry is how often a waiting sidecar (or one whose renewal
	// failed) tries again.
	Retry = 2 * time.Second
	// Margin: uploads stop this long before the lease expires by our
	// clock, to absorb request latency and clock skew between writers;
	// a skew beyond what it absorbs is refused (MaxSkew, skew.go).
	Margin = 5 * time.Second
	// CallTimeout bounds each lease request.
	CallTimeout = 5 * time.Second
	Key         = "lock.json"
)

// ErrHeld: another writer holds an unexpired lease.
var ErrHeld = errors.New("lease held by another writer")

// ErrLost: the lease object changed under us (another writer took it).
var ErrLost = errors.New("lease lost to another writer")

// ErrVanished: the lease object we hold is gone (If-Match on a
// missing key).
var ErrVanished = errors.New("lease object vanished")

// Doc is the lease object's content (Litestream's litestream.Lease).
type Doc struct {
	Generation int64     `json:"generation"`
	ExpiresAt  time.Time `json:"expires_at"`
	Owner      string    `json:"owner,omitempty"`
}

// Lease is a single-writer lease on the replica prefix, kept with S3
// conditional writes: create-if-absent (If-None-Match: *) and
// replace-only-the-version-we-hold (If-Match: etag). Whoever loses the
// race gets 412 Precondition Failed and writes nothing.
type Lease struct {
	store Store
	Owner string
	// ReclaimSuffix, when set, marks leases left by a dead predecessor on
	// this volume (VolumeID): those are taken over at once.
	ReclaimSuffix string
	Reclaimed     bool // the last acquire took over a dead predecessor's lease

	mu     sync.Mutex
	doc    Doc    // ours, while held
	etag   string // of our lease object; "" when not held
	holder string // last known holder (us or another writer)
	until  time.Time
	// parked: stood down for why (a clock skew, skew.go): the object is
	// marked expired, etag is still ours, uploads may not go ahead.
	parked bool
	why    error
	// skew: the store's clock against ours, from the latest answer that
	// carried a measurement (skew.go).
	skew *answer.Skew
}

// New is a lease on store's prefix owned by this process (host:pid).
func New(store Store) *Lease {
	host, _ := os.Hostname()
	return &Lease{store: store, Owner: fmt.Sprintf("%s:%d", host, os.Getpid())}
}

func (l *Lease) key() string { return l.store.Key(Key) }

// Live reports whether d still excludes other writers at now.
func (d *Doc) Live(now time.Time) bool { return d != nil && now.Before(d.ExpiresAt) }

// Read returns the lease object on store's prefix, nil when there is none,
// without taking it: restore reads it to learn whether a writer still runs.
func Read(ctx context.Context, store Store) (*Doc, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	doc, _, _, err := read(ctx, store)
	return doc, err
}

// acquire takes the lease if nobody holds an unexpired one. It returns
// ErrHeld (wrapped, naming the holder) when another writer has it.
func (l *Lease) Acquire(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	cur, etag, skew, err := read(ctx, l.store)
	l.measured(skew)
	if err != nil {
		return err
	}
	// The read measured the clock: an expiry this node's clock would
	// write, or its judgement that cur has expired, is not to be trusted
	// beyond MaxSkew.
	if err := l.skewErr(); err != nil {
		return err
	}
	gen := int64(1)
	if cur != nil {
		reclaim := l.ReclaimSuffix != "" && strings.HasSuffix(cur.Owner, l.ReclaimSuffix)
		if time.Now().Before(cur.ExpiresAt) && cur.Owner != l.Owner && !reclaim {
			l.mu.Lock()
			l.holder, l.until = cur.Owner, cur.ExpiresAt
			l.mu.Unlock()
			return fmt.Errorf("%w: %s until %s", ErrHeld, cur.Owner, cur.ExpiresAt.UTC().Format(time.RFC3339))
		}
		gen = cur.Generation + 1
	}
	doc := Doc{Generation: gen, ExpiresAt: time.Now().Add(TTL), Owner: l.Owner}
	newTag, err := l.write(ctx, doc, etag)
	if errors.Is(err, ErrLost) {
		return fmt.Errorf("%w: another writer took it first", ErrHeld)
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.doc, l.etag, l.holder, l.until = doc, newTag, l.Owner, doc.ExpiresAt
	l.parked, l.why = false, nil
	l.Reclaimed = cur != nil && cur.Owner != l.Owner && time.Now().Before(cur.ExpiresAt)
	l.mu.Unlock()
	return nil
}

// renew extends the lease we hold; ErrLost when the object changed. With
// the clock skewed beyond MaxSkew it stands the lease down instead and
// returns ErrClockSkew; a later renewal with the clock back in range
// takes it back if nobody else took it meanwhile (skew.go).
func (l *Lease) Renew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	l.mu.Lock()
	doc, etag, parked := l.doc, l.etag, l.parked
	l.mu.Unlock()
	if etag == "" {
		return ErrLost
	}
	if parked {
		if err := l.resume(ctx, etag); err != nil {
			return err
		}
	}
	if err := l.skewErr(); err != nil {
		return l.standDown(ctx, doc, etag, err)
	}
	doc.ExpiresAt = time.Now().Add(TTL)
	newTag, err := l.write(ctx, doc, etag)
	if errors.Is(err, ErrVanished) {
		// Our lease object was deleted (a wiped prefix): create it again,
		// only if nobody else did meanwhile. The replica watcher decides
		// separately whether the history went with it.
		newTag, err = l.write(ctx, doc, "")
	}
	// This very renewal's response measured the clock: with the skew
	// beyond MaxSkew, the expiry it wrote by this clock must not stand.
	skew := l.skewErr()
	l.mu.Lock()
	switch {
	case errors.Is(err, ErrLost):
		l.etag, l.holder, l.until = "", "", time.Time{}
	case err == nil && skew == nil:
		l.doc, l.etag, l.holder, l.until = doc, newTag, l.Owner, doc.ExpiresAt
		l.parked, l.why = false, nil
	case err == nil:
		l.etag, l.parked, l.why, l.holder, l.until = newTag, true, skew, "", time.Time{}
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if skew != nil {
		return l.standDown(ctx, doc, newTag, skew)
	}
	return nil
}

// release marks our lease expired (conditionally, so it never clobbers a
// lease another writer took), letting the next writer start at once.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	doc, etag := l.doc, l.etag
	l.etag = ""
	l.mu.Unlock()
	if etag == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	doc.ExpiresAt = time.Now().Add(-time.Second)
	_, err := l.write(ctx, doc, etag)
	if errors.Is(err, ErrLost) || errors.Is(err, ErrVanished) {
		return nil // someone else has it already, or nobody: nothing of ours to release
	}
	return err
}

// valid reports whether uploads may go ahead: we hold the lease and it
// has more than Margin left by our clock.
func (l *Lease) Valid(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.etag != "" && !l.parked && now.Add(Margin).Before(l.until)
}

// held reports the last known holder and expiry, for /status.
func (l *Lease) Held() (holder string, until time.Time, ours bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder, l.until, l.etag != "" && !l.parked && l.holder == l.Owner
}

// read returns the current lease object and its ETag; nil when absent.
// The answer's clock measurement comes back even with an error.
func read(ctx context.Context, store Store) (*Doc, string, *answer.Skew, error) {
	k := store.Key(Key)
	o, err := store.Get(ctx, k, 64<<10)
	if err != nil {
		return nil, "", o.Skew, fmt.Errorf("read lease %s: %w", k, err)
	} else if !o.Found {
		return nil, "", o.Skew, nil
	}
	var doc Doc
	if err := json.Unmarshal(o.Body, &doc); err != nil {
		// An unreadable lease object is treated as expired: it will be
		// replaced conditionally on its ETag, so no writer is overrun.
		return &Doc{}, o.ETag, o.Skew, nil
	}
	return &doc, o.ETag, o.Skew, nil
}

// write puts doc if the object is still at etag ("" = still absent).
func (l *Lease) write(ctx context.Context, doc Doc, etag string) (string, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	a, err := l.store.PutIf(ctx, l.key(), b, etag)
	l.measured(a.Skew)
	switch {
	case err != nil:
		return "", fmt.Errorf("write lease %s: %w", l.key(), err)
	case a.Outcome == answer.PreconditionFailed:
		return "", ErrLost
	case a.Outcome == answer.NotFound:
		return "", ErrVanished
	}
	return a.ETag, nil
}
