package lease

import (
	"context"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/answer"
)

// Store is the object store the lease writes through (pkg/bucket's Store
// in production). The lease rests on its conditional puts being enforced,
// which Probe proves before the sidecar relies on them.
type Store interface {
	// Get reads the object at key whole, up to limit bytes, with one
	// request; its ETag is that same response's. No object at key is
	// Found false, not an error. Errors are classified by exit code
	// (sysexit), retryable or not as the store's class says.
	Get(ctx context.Context, key string, limit int64) (answer.Object, error)
	// PutIf writes body (JSON) at key only if the object there has the
	// ETag etag, or, with etag "", only if there is no object at key; it
	// answers the new object's ETag. A refusal is an answer, with nothing
	// written: PreconditionFailed when the condition did not hold,
	// NotFound for an etag on a key that holds no object. Errors are for
	// a store that did not answer that way, classified as Get's.
	PutIf(ctx context.Context, key string, body []byte, etag string) (answer.Put, error)
	// Remove deletes the object at key; no object there is not an error.
	Remove(ctx context.Context, key string) error
	// Key is name's key under the store's prefix: the lease's own
	// (Key) and the probe's objects live beside the replica.
	Key(name string) string
	// Endpoint names the store, for the lines that name it.
	Endpoint() string
}
