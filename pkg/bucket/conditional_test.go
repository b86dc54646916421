package bucket_test

import (
	"context"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
)

// The lease writes through a bucket.Store.
var _ lease.Store = (*bucket.Store)(nil)

// TestConditional: against the real MinIO, the conditional put answers a
// refusal as a value (an existing object for a create, another ETag, a
// missing object for If-Match), Get returns the ETag the put wrote, and
// removing a missing object is no error.
func TestConditional(t *testing.T) {
	m := minioWith(t, "cond")
	ctx := context.Background()
	s := bucket.NewStore(m.Client(), "cond", "p")
	key := s.Key("x.json")
	if key != "p/x.json" {
		t.Fatalf("Key = %q", key)
	}
	if o, err := s.Get(ctx, key, 1024); err != nil || o.Found {
		t.Fatalf("Get of a missing object = %+v, %v; want not found, no error", o, err)
	}
	created, err := s.PutIf(ctx, key, []byte(`{"v":1}`), "")
	if err != nil || created.Outcome != answer.Written || created.ETag == "" {
		t.Fatalf("create = %+v, %v", created, err)
	}
	if o, err := s.Get(ctx, key, 1024); err != nil || !o.Found || o.ETag != created.ETag || string(o.Body) != `{"v":1}` {
		t.Fatalf("Get = %+v, %v; want the object created, ETag %s", o, err, created.ETag)
	}
	for _, tc := range []struct {
		what, key, etag string
		want            answer.Outcome
	}{
		{"create over an existing object", key, "", answer.PreconditionFailed},
		{"If-Match with another ETag", key, "0123456789abcdef0123456789abcdef", answer.PreconditionFailed},
		{"If-Match on a missing object", s.Key("missing.json"), created.ETag, answer.NotFound},
		{"If-Match with the object's ETag", key, created.ETag, answer.Written},
	} {
		if a, err := s.PutIf(ctx, tc.key, []byte(`{"v":2}`), tc.etag); err != nil || a.Outcome != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.what, a.Outcome, err, tc.want)
		}
	}
	if err := s.Remove(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, key); err != nil {
		t.Fatalf("removing a missing object: %v", err)
	}
}
