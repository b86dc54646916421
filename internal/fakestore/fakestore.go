// Package fakestore is an object store in memory for the lease's tests
// (pkg/lease's Store): it keeps objects with ETags and enforces If-Match
// and If-None-Match as S3 does, and it can misbehave the way real stores
// have: accept If-Match on a missing key (MinIO before the fix of
// minio/minio#21526), let two racing creates both win (stores that ignore
// If-None-Match, or check it apart from the write), ignore If-Match with
// another ETag, answer with a skewed clock, or fail with a given error.
// The fake proves the lease's rules; the MinIO tests prove the wire.
package fakestore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
)

// Store is the fake. The zero value is not ready: use New.
type Store struct {
	Prefix string

	// IfMatchMissing: If-Match on a key with no object writes it instead
	// of answering NotFound.
	IfMatchMissing bool
	// RacingCreates: If-None-Match: * is checked apart from the write, so
	// a create racing another one wins too. Modelled as: a create over an
	// object that a create wrote (nobody replaced it with If-Match since)
	// is accepted.
	RacingCreates bool
	// IgnoreIfMatch: If-Match with another ETag than the object's writes.
	IgnoreIfMatch bool
	// Err, when set, is every request's error (a store down, denied...).
	Err error
	// BeforePut, when set, runs before each put with the put's number
	// (from 1), without the store's lock: another writer acting between
	// the lease's read and its write.
	BeforePut func(n int)

	mu     sync.Mutex
	objs   map[string]object
	etags  int
	puts   int
	skew   *answer.Skew
	endpnt string
}

type object struct {
	body     []byte
	etag     string
	byCreate bool // written by If-None-Match: *
}

// New is an empty, well-behaved store.
func New() *Store { return &Store{objs: map[string]object{}, endpnt: "http://fake-store:9000"} }

// SetSkew makes every answer carry this measurement of the store's clock
// against ours (nil: no measurement).
func (s *Store) SetSkew(sk *answer.Skew) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew = sk
}

// Dated is the measurement a response gives whose Date was stamped by a
// clock off ours by offset: Date truncated to the second, received at
// once, as bucket's clock measures it.
func Dated(offset time.Duration) *answer.Skew {
	now := time.Now()
	sk := answer.FromDate(now.Add(offset).Truncate(time.Second), now, now)
	return &sk
}

// Get is pkg/lease's Store.Get.
func (s *Store) Get(_ context.Context, key string, limit int64) (answer.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := answer.Object{Skew: s.skew}
	if s.Err != nil {
		return a, s.Err
	}
	o, ok := s.objs[key]
	if !ok {
		return a, nil
	}
	b := o.body
	if int64(len(b)) > limit {
		b = b[:limit]
	}
	a.Body, a.ETag, a.Found = slices.Clone(b), o.etag, true
	return a, nil
}

// PutIf is pkg/lease's Store.PutIf.
func (s *Store) PutIf(_ context.Context, key string, body []byte, etag string) (answer.Put, error) {
	s.mu.Lock()
	s.puts++
	n, hook := s.puts, s.BeforePut
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := answer.Put{Skew: s.skew}
	if s.Err != nil {
		return a, s.Err
	}
	cur, exists := s.objs[key]
	switch {
	case etag == "" && exists && !(s.RacingCreates && cur.byCreate):
		a.Outcome = answer.PreconditionFailed
	case etag != "" && !exists && !s.IfMatchMissing:
		a.Outcome = answer.NotFound
	case etag != "" && exists && cur.etag != etag && !s.IgnoreIfMatch:
		a.Outcome = answer.PreconditionFailed
	default:
		s.etags++
		a.ETag = fmt.Sprintf("%032x", s.etags)
		s.objs[key] = object{body: slices.Clone(body), etag: a.ETag, byCreate: etag == ""}
	}
	return a, nil
}

// Remove is pkg/lease's Store.Remove.
func (s *Store) Remove(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	delete(s.objs, key)
	return nil
}

// Key is pkg/lease's Store.Key.
func (s *Store) Key(name string) string {
	if s.Prefix == "" {
		return name
	}
	return s.Prefix + "/" + name
}

// Endpoint is pkg/lease's Store.Endpoint.
func (s *Store) Endpoint() string { return s.endpnt }

// Object returns the body at key, as another client would read it.
func (s *Store) Object(key string) (body []byte, etag string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	return slices.Clone(o.body), o.etag, ok
}

// Set writes body at key unconditionally (another writer, or a test
// laying out the store); Delete removes it.
func (s *Store) Set(key string, body []byte) (etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etags++
	etag = fmt.Sprintf("%032x", s.etags)
	s.objs[key] = object{body: slices.Clone(body), etag: etag}
	return etag
}

// Delete removes the object at key.
func (s *Store) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, key)
}

// Keys lists the keys that hold an object.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.objs {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
