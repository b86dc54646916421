package lease

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
)

// TestLeaseClockSkew, against the real MinIO behind a proxy that shifts
// the Date of its responses: a lease is not taken with the clock skewed
// beyond MaxSkew; a held one stands down (not valid, its object expired
// for every clock) and is taken back once the clock is right if nobody
// took it meanwhile, or reports ErrLost if someone did.
func TestLeaseClockSkew(t *testing.T) {
	m := testenv.NewMinIO(t)
	ctx := context.Background()
	if err := m.MakeBucket(ctx, "skew"); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var shift atomic.Int64
	pass := httputil.NewSingleHostReverseProxy(target)
	pass.ModifyResponse = func(r *http.Response) error {
		if d, err := http.ParseTime(r.Header.Get("Date")); err == nil {
			r.Header.Set("Date", d.Add(time.Duration(shift.Load())).UTC().Format(http.TimeFormat))
		}
		return nil
	}
	px := httptest.NewServer(pass)
	defer px.Close()
	store, err := bucket.New(&config.Config{ReplicaURL: "s3://skew/p", S3Endpoint: px.URL, S3Region: "us-east-1",
		AccessKeyID: testenv.AccessKey, SecretAccessKey: testenv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	direct := bucket.NewStore(m.Client(), "skew", "p") // a writer with a right clock
	a := New(store)

	shift.Store(int64(30 * time.Second))
	if err := a.Acquire(ctx); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("acquire with the clock 30 s behind = %v, want ErrClockSkew", err)
	}
	if doc, err := Read(ctx, direct); err != nil || doc != nil {
		t.Fatalf("a skewed acquire wrote a lease: %+v, %v", doc, err)
	}

	shift.Store(0)
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if !a.Valid(time.Now()) || a.Problem() != nil {
		t.Fatal("lease not valid with the clock right")
	}

	// Skewed while held: stand down, then take it back.
	shift.Store(int64(-30 * time.Second))
	if err := a.Renew(ctx); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("renew with the clock 30 s ahead = %v, want ErrClockSkew", err)
	}
	if a.Valid(time.Now()) || !errors.Is(a.Problem(), ErrClockSkew) {
		t.Fatal("a stood-down lease is still valid")
	}
	if _, _, ours := a.Held(); ours {
		t.Fatal("a stood-down lease is reported held")
	}
	if doc, err := Read(ctx, direct); err != nil || doc == nil || !doc.ExpiresAt.IsZero() || doc.Live(time.Now().Add(-time.Hour)) {
		t.Fatalf("the stood-down lease object = %+v, %v; want it expired at the zero time", doc, err)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("renew, still skewed = %v, want ErrClockSkew", err)
	}
	shift.Store(0)
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("renew with the clock right again: %v", err)
	}
	if !a.Valid(time.Now()) || a.Problem() != nil {
		t.Fatal("the lease taken back is not valid")
	}

	// Skewed again, and another writer takes the expired lease meanwhile.
	shift.Store(int64(30 * time.Second))
	if err := a.Renew(ctx); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("renew with the clock 30 s behind = %v, want ErrClockSkew", err)
	}
	b := New(direct)
	b.Owner = "other:2"
	if err := b.Acquire(ctx); err != nil {
		t.Fatalf("another writer cannot take a stood-down lease: %v", err)
	}
	shift.Store(0)
	if err := a.Renew(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("renew after another writer took the stood-down lease = %v, want ErrLost", err)
	}
	if doc, _ := Read(ctx, direct); doc == nil || doc.Owner != b.Owner || !doc.Live(time.Now()) {
		t.Fatalf("the other writer's lease was touched: %+v", doc)
	}
}
