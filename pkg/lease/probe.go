package lease

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// ErrUnconditional: the store does not enforce a conditional write the
// lease rests on. On such a store the lease excludes nobody: two writers
// both "win" the create race, and a renewal overwrites another's lease.
var ErrUnconditional = errors.New("the object store does not enforce conditional writes")

// staleETag is an ETag no object has.
const staleETag = "00000000000000000000000000000000"

// Probe proves, with a probe object under the prefix that it removes
// again, that the store enforces the conditional writes the lease rests
// on:
//   - If-None-Match: * on an existing object fails (several S3-compatible
//     stores ignore it);
//   - If-Match with another ETag on an existing object fails;
//   - If-Match on a missing object fails (MinIO before the fix of
//     minio/minio#21526 accepted it).
//
// It returns an error wrapping ErrUnconditional naming the probe that the
// store let through; other errors are the store's (classified by bucket).
func Probe(ctx context.Context, store *bucket.Store) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	key := path.Join(store.Prefix, "lock-probe-"+id+".json")
	missing := path.Join(store.Prefix, "lock-probe-"+id+"-missing.json")
	// Only what the store took is removed, each removal bounded: a store
	// that does not answer must not hold the caller up (minio-go retries
	// a request until its context ends), nor one stopping.
	var created []string
	defer func() {
		for _, k := range created {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CallTimeout)
			_ = store.Client.RemoveObject(ctx, store.Bucket, k, minio.RemoveObjectOptions{})
			cancel()
		}
	}()
	put := func(k string, opts minio.PutObjectOptions) error {
		ctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		body := []byte(`{"probe":"` + id + `"}`)
		opts.ContentType = "application/json"
		_, err := store.Client.PutObject(ctx, store.Bucket, k, bytes.NewReader(body), int64(len(body)), opts)
		if err == nil {
			created = append(created, k)
		}
		return err
	}
	create := minio.PutObjectOptions{}
	create.SetMatchETagExcept("*")
	if err := put(key, create); err != nil {
		return fmt.Errorf("lease probe: create %s: %w", key, bucket.Classify(err))
	}
	ifMatch := minio.PutObjectOptions{}
	ifMatch.SetMatchETag(staleETag)
	for _, p := range []struct {
		what, key string
		opts      minio.PutObjectOptions
	}{
		{"If-None-Match: * on an existing object", key, create},
		{"If-Match with another ETag", key, ifMatch},
		{"If-Match on a missing object (MinIO before minio/minio#21526)", missing, ifMatch},
	} {
		err := put(p.key, p.opts)
		switch {
		case err == nil:
			return fmt.Errorf("%w: %s was accepted", ErrUnconditional, p.what)
		case isPrecondition(err), minio.ToErrorResponse(err).Code == "NoSuchKey":
		default:
			return fmt.Errorf("lease probe: %s: %w", p.what, bucket.Classify(err))
		}
	}
	return nil
}
