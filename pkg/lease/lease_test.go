package lease

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// TestLeaseConditionalWrites proves, against the real MinIO, that the
// lease rests on conditional PUTs the store honours: a second writer
// cannot take an unexpired lease nor win the create race, a renewal after
// someone replaced the object fails, and a released lease can be taken.
func TestLeaseConditionalWrites(t *testing.T) {
	m := testenv.NewMinIO(t)
	ctx := context.Background()
	if err := m.MakeBucket(ctx, "lease"); err != nil {
		t.Fatal(err)
	}
	store := bucket.NewStore(m.Client(), "lease", "p")
	a, b := New(store), New(store)
	b.Owner = "other:2"

	if err := a.Acquire(ctx); err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	if err := b.Acquire(ctx); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), a.Owner) {
		t.Fatalf("second acquire = %v, want ErrHeld naming %s", err, a.Owner)
	}
	// The create race: If-None-Match: * must fail when the object exists.
	if _, err := b.write(ctx, Doc{Owner: b.Owner}, ""); !errors.Is(err, ErrLost) {
		t.Fatalf("create-if-absent over an existing lease = %v, want a precondition failure", err)
	}
	// If-Match with a stale ETag must fail.
	if _, err := b.write(ctx, Doc{Owner: b.Owner}, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrLost) {
		t.Fatalf("replace with a stale ETag = %v, want a precondition failure", err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("renew: %v", err)
	}
	if !a.Valid(time.Now()) {
		t.Fatal("renewed lease not valid")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := b.Acquire(ctx); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	// Give a the ETag of b's object, as if a still believed it current;
	// once b renews, a's conditional renewal must fail at the store.
	a.mu.Lock()
	a.etag = b.etag
	a.mu.Unlock()
	if err := b.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("renew after another writer took the lease = %v, want ErrLost", err)
	}
	obj, err := m.Client().GetObject(ctx, "lease", "p/lock.json", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	buf := make([]byte, 512)
	n, _ := obj.Read(buf)
	if !strings.Contains(string(buf[:n]), b.Owner) {
		t.Fatalf("lease object does not name the holder %s: %s", b.Owner, buf[:n])
	}
}

// TestProbe: the real MinIO enforces every conditional write the lease
// needs, and the probe leaves nothing behind.
func TestProbe(t *testing.T) {
	m := testenv.NewMinIO(t)
	ctx := context.Background()
	if err := m.MakeBucket(ctx, "probe"); err != nil {
		t.Fatal(err)
	}
	store := bucket.NewStore(m.Client(), "probe", "apps/x")
	if err := Probe(ctx, store); err != nil {
		t.Fatalf("Probe against MinIO: %v", err)
	}
	for obj := range m.Client().ListObjects(ctx, "probe", minio.ListObjectsOptions{Recursive: true}) {
		t.Fatalf("the probe left %s behind", obj.Key)
	}
}
