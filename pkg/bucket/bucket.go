// Package bucket is our only S3 object code (minio-go). Before Litestream
// touches anything it answers the questions that decide whether an empty
// replica is a fact or a fault: is the store reachable, are we authorised,
// does the bucket exist, does the prefix hold a backup? It also moves a
// history aside and is the Store the lease writes through, measuring the
// store's clock against ours on every response (clock.go). Its errors are
// classified by exit code (sysexit) so the caller never has to guess from
// a message.
package bucket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/litestream-sidecar/litestream-sidecar/internal/tlsenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// Error classes, matched with errors.Is.
var (
	ErrUnreachable = errors.New("replica unreachable")
	ErrDenied      = errors.New("access denied")
	ErrNoBucket    = errors.New("bucket does not exist")
)

// Store is the object store behind an s3:// REPLICA_URL.
type Store struct {
	client *minio.Client
	Bucket string
	Prefix string // without trailing slash
	// Clock is the skew of the store's clock against ours, measured on
	// every response (clock.go); nil for a Store not built by New.
	Clock *Clock
}

// Option adjusts the minio-go client New builds.
type Option func(*minio.Options)

// OneAttempt turns off minio-go's own retries (10 attempts by default),
// for callers that retry themselves, log each attempt and must report the
// last real cause (a refused connection, DNS, TLS): retries inside
// minio-go run until the deadline and leave only "context deadline
// exceeded".
func OneAttempt(o *minio.Options) { o.MaxRetries = 1 }

// New builds a minio-go client for cfg. It does not connect.
func New(cfg *config.Config, opts ...Option) (*Store, error) {
	tlsenv.Apply(cfg.S3CAFile)
	loc := cfg.Location()
	if loc.Scheme != "s3" {
		return nil, fmt.Errorf("bucket: REPLICA_URL scheme %q is not s3", loc.Scheme)
	}
	host, secure, lookup := "s3.amazonaws.com", true, minio.BucketLookupAuto
	if cfg.S3Endpoint != "" {
		u, err := url.Parse(cfg.S3Endpoint)
		if err != nil {
			return nil, sysexit.Errorf(sysexit.Usage, "invalid S3_ENDPOINT: %v", err)
		}
		host, secure, lookup = u.Host, u.Scheme == "https", minio.BucketLookupPath
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("bucket: transport: %w", err)
	}
	tr.ResponseHeaderTimeout = 30 * time.Second
	if cfg.S3SkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	var creds *credentials.Credentials
	if cfg.AccessKeyID != "" {
		creds = credentials.NewStaticV4(cfg.AccessKeyID.Reveal(), cfg.SecretAccessKey.Reveal(), "")
	} else {
		// Same order as the AWS SDK's default chain that Litestream uses.
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
		})
	}
	clock := &Clock{}
	mo := &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Transport:    &dnsTransport{next: &clockTransport{next: tr, clock: clock}, now: time.Now},
		Region:       cfg.S3Region,
		BucketLookup: lookup,
	}
	for _, o := range opts {
		o(mo)
	}
	c, err := minio.New(host, mo)
	if err != nil {
		return nil, sysexit.Errorf(sysexit.Usage, "invalid S3_ENDPOINT: %v", err)
	}
	return &Store{client: c, Bucket: loc.Bucket, Prefix: loc.Prefix, Clock: clock}, nil
}

// NewStore is a Store over a minio-go client built elsewhere (the tests'
// MinIO, through whatever transport they need). It measures no clock.
func NewStore(c *minio.Client, bucketName, prefix string) *Store {
	return &Store{client: c, Bucket: bucketName, Prefix: prefix}
}

// ReadSmall reads the object at key whole (up to limit bytes) with one
// GET: minio-go's Stat before a read would send a HEAD ahead of it, one
// more round trip. ok is false when there is no such object; etag is the
// GET's. Errors are minio-go's, for the caller to classify.
func (s *Store) ReadSmall(ctx context.Context, key string, limit int64) (b []byte, etag string, ok bool, err error) {
	b, obj, err := s.read(ctx, key, minio.GetObjectOptions{}, limit)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", false, nil
	} else if err != nil {
		return nil, "", false, err
	}
	defer obj.Close()
	info, err := obj.Stat() // after the GET: what its response said
	if err != nil {
		return nil, "", false, err
	}
	return b, info.ETag, true, nil
}

// ReadRange reads n bytes of the object at key from offset off with one
// GET; a missing object is os.ErrNotExist, as Litestream's clients say it.
func (s *Store) ReadRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	return s.ranged(ctx, key, off, off+n-1, n)
}

// ReadSuffix returns the last n bytes of key (a suffix range: the size
// need not be known). A missing object is os.ErrNotExist.
func (s *Store) ReadSuffix(ctx context.Context, key string, n int64) ([]byte, error) {
	return s.ranged(ctx, key, 0, -n, n)
}

// ranged reads the range minio-go's SetRange(start, end) names, n bytes
// at most.
func (s *Store) ranged(ctx context.Context, key string, start, end, n int64) ([]byte, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(start, end); err != nil {
		return nil, err
	}
	b, obj, err := s.read(ctx, key, opts, n)
	if err != nil {
		return nil, err
	}
	obj.Close()
	return b, nil
}

// read GETs key and reads up to limit bytes; the caller closes obj. A
// missing object is os.ErrNotExist.
func (s *Store) read(ctx context.Context, key string, opts minio.GetObjectOptions, limit int64) ([]byte, *minio.Object, error) {
	obj, err := s.client.GetObject(ctx, s.Bucket, key, opts)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(obj, limit))
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, nil, fmt.Errorf("%s: %w", key, os.ErrNotExist)
		}
		return nil, nil, err
	}
	return b, obj, nil
}

// Endpoint is the S3 endpoint the store talks to, for error lines.
func (s *Store) Endpoint() string { return s.client.EndpointURL().String() }

// Classify wraps err, from a minio-go call, with its class and exit code;
// an answer a retry cannot change is also marked ErrPermanent
// (permanent.go).
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if c := classifyRequest(err); c != nil {
		return c
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "InvalidToken", "ExpiredToken":
		return final(sysexit.NoPerm, fmt.Errorf("%w: %s (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy)", ErrDenied, resp.Code))
	case "NoSuchBucket":
		return final(sysexit.DataErr, fmt.Errorf("%w: %q (check the bucket in REPLICA_URL)", ErrNoBucket, resp.BucketName))
	}
	if resp.StatusCode == 403 {
		return final(sysexit.NoPerm, fmt.Errorf("%w: HTTP 403 %s", ErrDenied, resp.Code))
	}
	if rejected(resp) {
		return rejection(resp)
	}
	return sysexit.New(sysexit.Unavailable, fmt.Errorf("%w: %s", ErrUnreachable, sysexit.OneLine(err)))
}
