package bucket

import (
	"bytes"
	"context"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
)

// The operations the lease writes through (pkg/lease's Store): a small
// object read with its ETag, a conditional put whose refusals are answers
// rather than errors, and a removal. Every answer carries the store's
// clock as measured so far (clock.go), so that each lease request is also
// a clock check at no extra request. Errors are classified (Classify).

// Key is name's key under the store's prefix.
func (s *Store) Key(name string) string {
	if s.Prefix == "" {
		return name
	}
	return s.Prefix + "/" + name
}

// Get reads the object at key whole, up to limit bytes, with one GET
// (ReadSmall); a missing object is Found false.
func (s *Store) Get(ctx context.Context, key string, limit int64) (answer.Object, error) {
	b, etag, ok, err := s.ReadSmall(ctx, key, limit)
	a := answer.Object{Body: b, ETag: etag, Found: ok, Skew: s.skew()}
	if err != nil {
		return answer.Object{Skew: a.Skew}, Classify(err)
	}
	return a, nil
}

// PutIf writes body (JSON) at key only if the object there still has the
// ETag etag (If-Match), or, with etag "", only if there is none
// (If-None-Match: *). The store refusing is an answer: PreconditionFailed
// (412, or 409 for a concurrent conditional write that won), NotFound for
// If-Match on a missing key.
func (s *Store) PutIf(ctx context.Context, key string, body []byte, etag string) (answer.Put, error) {
	opts := minio.PutObjectOptions{ContentType: "application/json"}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	info, err := s.client.PutObject(ctx, s.Bucket, key, bytes.NewReader(body), int64(len(body)), opts)
	a := answer.Put{Skew: s.skew()}
	switch {
	case err == nil:
		a.ETag = info.ETag
	case isPrecondition(err):
		a.Outcome = answer.PreconditionFailed
	case etag != "" && minio.ToErrorResponse(err).Code == "NoSuchKey":
		a.Outcome = answer.NotFound
	default:
		return a, Classify(err)
	}
	return a, nil
}

// Remove deletes the object at key; a missing one is not an error.
func (s *Store) Remove(ctx context.Context, key string) error {
	err := s.client.RemoveObject(ctx, s.Bucket, key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return Classify(err)
	}
	return nil
}

// skew is the clock measured so far, nil before the first measurement (or
// for a Store not built by New).
func (s *Store) skew() *answer.Skew {
	if sk, ok := s.Clock.Last(); ok {
		return &sk
	}
	return nil
}

func isPrecondition(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "PreconditionFailed" || r.StatusCode == http.StatusPreconditionFailed ||
		r.StatusCode == http.StatusConflict
}
