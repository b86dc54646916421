package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// Lease timing. The lease object lives at <prefix>/lock.json, the key and
// JSON shape of Litestream's own s3.Leaser, so an upstream litestream
// process on the same prefix sees it too.
const (
	leaseTTL = 30 * time.Second
	// leaseRenew is well inside the TTL: two renewals may fail before the
	// lease runs out.
	leaseRenew = leaseTTL / 3
	// leaseRetry is how often a waiting sidecar (or one whose renewal
	// failed) tries again.
	leaseRetry = 2 * time.Second
	// leaseMargin: uploads stop this long before the lease expires by our
	// clock, to absorb request latency and clock skew between writers.
	leaseMargin = 5 * time.Second
	// leaseCallTimeout bounds each lease request.
	leaseCallTimeout = 5 * time.Second
	leaseKey         = "lock.json"
)

// errLeaseHeld: another writer holds an unexpired lease.
var errLeaseHeld = errors.New("lease held by another writer")

// errLeaseLost: the lease object changed under us (another writer took it).
var errLeaseLost = errors.New("lease lost to another writer")

// errLeaseVanished: the lease object we hold is gone (If-Match on a
// missing key).
var errLeaseVanished = errors.New("lease object vanished")

// leaseDoc is the lease object's content (Litestream's litestream.Lease).
type leaseDoc struct {
	Generation int64     `json:"generation"`
	ExpiresAt  time.Time `json:"expires_at"`
	Owner      string    `json:"owner,omitempty"`
}

// lease is a single-writer lease on the replica prefix, kept with S3
// conditional writes: create-if-absent (If-None-Match: *) and
// replace-only-the-version-we-hold (If-Match: etag). Whoever loses the
// race gets 412 Precondition Failed and writes nothing.
type lease struct {
	store *bucket.Store
	owner string
	// reclaimSuffix, when set, marks leases left by a dead predecessor on
	// this volume (lease_id.go): those are taken over at once.
	reclaimSuffix string
	reclaimed     bool // the last acquire took over a dead predecessor's lease

	mu     sync.Mutex
	doc    leaseDoc // ours, while held
	etag   string   // of our lease object; "" when not held
	holder string   // last known holder (us or another writer)
	until  time.Time
}

func newLease(store *bucket.Store) *lease {
	host, _ := os.Hostname()
	return &lease{store: store, owner: fmt.Sprintf("%s:%d", host, os.Getpid())}
}

func (l *lease) key() string {
	if l.store.Prefix == "" {
		return leaseKey
	}
	return l.store.Prefix + "/" + leaseKey
}

// acquire takes the lease if nobody holds an unexpired one. It returns
// errLeaseHeld (wrapped, naming the holder) when another writer has it.
func (l *lease) acquire(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	cur, etag, err := l.read(ctx)
	if err != nil {
		return err
	}
	gen := int64(1)
	if cur != nil {
		reclaim := l.reclaimSuffix != "" && strings.HasSuffix(cur.Owner, l.reclaimSuffix)
		if time.Now().Before(cur.ExpiresAt) && cur.Owner != l.owner && !reclaim {
			l.mu.Lock()
			l.holder, l.until = cur.Owner, cur.ExpiresAt
			l.mu.Unlock()
			return fmt.Errorf("%w: %s until %s", errLeaseHeld, cur.Owner, cur.ExpiresAt.UTC().Format(time.RFC3339))
		}
		gen = cur.Generation + 1
	}
	doc := leaseDoc{Generation: gen, ExpiresAt: time.Now().Add(leaseTTL), Owner: l.owner}
	newTag, err := l.write(ctx, doc, etag)
	if errors.Is(err, errLeaseLost) {
		return fmt.Errorf("%w: another writer took it first", errLeaseHeld)
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.doc, l.etag, l.holder, l.until = doc, newTag, l.owner, doc.ExpiresAt
	l.reclaimed = cur != nil && cur.Owner != l.owner && time.Now().Before(cur.ExpiresAt)
	l.mu.Unlock()
	return nil
}

// renew extends the lease we hold; errLeaseLost when the object changed.
func (l *lease) renew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	l.mu.Lock()
	doc, etag := l.doc, l.etag
	l.mu.Unlock()
	if etag == "" {
		return errLeaseLost
	}
	doc.ExpiresAt = time.Now().Add(leaseTTL)
	newTag, err := l.write(ctx, doc, etag)
	if errors.Is(err, errLeaseVanished) {
		// Our lease object was deleted (a wiped prefix): create it again,
		// only if nobody else did meanwhile. The replica watcher decides
		// separately whether the history went with it.
		newTag, err = l.write(ctx, doc, "")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if errors.Is(err, errLeaseLost) {
		l.etag, l.holder, l.until = "", "", time.Time{}
		return err
	}
	if err != nil {
		return err
	}
	l.doc, l.etag, l.until = doc, newTag, doc.ExpiresAt
	return nil
}

// release marks our lease expired (conditionally, so it never clobbers a
// lease another writer took), letting the next writer start at once.
func (l *lease) release(ctx context.Context) error {
	l.mu.Lock()
	doc, etag := l.doc, l.etag
	l.etag = ""
	l.mu.Unlock()
	if etag == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	doc.ExpiresAt = time.Now().Add(-time.Second)
	_, err := l.write(ctx, doc, etag)
	if errors.Is(err, errLeaseLost) || errors.Is(err, errLeaseVanished) {
		return nil // someone else has it already, or nobody: nothing of ours to release
	}
	return err
}

// valid reports whether uploads may go ahead: we hold the lease and it
// has more than leaseMargin left by our clock.
func (l *lease) valid(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.etag != "" && now.Add(leaseMargin).Before(l.until)
}

// held reports the last known holder and expiry, for /status.
func (l *lease) held() (holder string, until time.Time, ours bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder, l.until, l.etag != "" && l.holder == l.owner
}

// read returns the current lease object and its ETag; nil when absent.
func (l *lease) read(ctx context.Context) (*leaseDoc, string, error) {
	obj, err := l.store.Client.GetObject(ctx, l.store.Bucket, l.key(), minio.GetObjectOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("read lease %s: %w", l.key(), bucket.Classify(err))
	}
	defer obj.Close()
	info, err := obj.Stat()
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("read lease %s: %w", l.key(), bucket.Classify(err))
	}
	b, err := io.ReadAll(io.LimitReader(obj, 64<<10))
	if err != nil {
		return nil, "", fmt.Errorf("read lease %s: %w", l.key(), bucket.Classify(err))
	}
	var doc leaseDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		// An unreadable lease object is treated as expired: it will be
		// replaced conditionally on its ETag, so no writer is overrun.
		return &leaseDoc{}, info.ETag, nil
	}
	return &doc, info.ETag, nil
}

// write puts doc if the object is still at etag ("" = still absent).
func (l *lease) write(ctx context.Context, doc leaseDoc, etag string) (string, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	opts := minio.PutObjectOptions{ContentType: "application/json"}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	info, err := l.store.Client.PutObject(ctx, l.store.Bucket, l.key(), bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		if isPrecondition(err) {
			return "", errLeaseLost
		}
		if etag != "" && minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return "", errLeaseVanished
		}
		return "", fmt.Errorf("write lease %s: %w", l.key(), bucket.Classify(err))
	}
	return info.ETag, nil
}

func isPrecondition(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "PreconditionFailed" || r.StatusCode == http.StatusPreconditionFailed ||
		r.StatusCode == http.StatusConflict
}
