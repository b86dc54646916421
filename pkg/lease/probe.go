package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
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
// store let through; other errors are the store's (classified by it, Store).
func Probe(ctx context.Context, store Store) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	key := store.Key("lock-probe-" + id + ".json")
	missing := store.Key("lock-probe-" + id + "-missing.json")
	// Only what the store took is removed, each removal bounded: a store
	// that does not answer must not hold the caller up (minio-go retries
	// a request until its context ends), nor one stopping.
	var created []string
	defer func() {
		for _, k := range created {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CallTimeout)
			_ = store.Remove(ctx, k)
			cancel()
		}
	}()
	body := []byte(`{"probe":"` + id + `"}`)
	put := func(k, etag string) (answer.Outcome, error) {
		ctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		a, err := store.PutIf(ctx, k, body, etag)
		if err == nil && a.Outcome == answer.Written {
			created = append(created, k)
		}
		return a.Outcome, err
	}
	if o, err := put(key, ""); err != nil {
		return fmt.Errorf("lease probe: create %s: %w", key, err)
	} else if o != answer.Written {
		// A refused create of a name nobody uses: the store's trouble,
		// not a writer's (exit 69 as for a store that does not answer).
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("lease probe: create %s: the store answered %s to a create under a new name", key, o))
	}
	for _, p := range []struct {
		what, key, etag string
	}{
		{"If-None-Match: * on an existing object", key, ""},
		{"If-Match with another ETag", key, staleETag},
		{"If-Match on a missing object (MinIO before minio/minio#21526)", missing, staleETag},
	} {
		o, err := put(p.key, p.etag)
		switch {
		case err != nil:
			return fmt.Errorf("lease probe: %s: %w", p.what, err)
		case o == answer.Written:
			return fmt.Errorf("%w: %s was accepted", ErrUnconditional, p.what)
		}
	}
	return nil
}
