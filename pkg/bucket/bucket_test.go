package bucket_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
)

// TestReadRange: the bytes asked for, and a missing object as
// os.ErrNotExist, which restore reads as "the plan is out of date".
func TestReadRange(t *testing.T) {
	m := minioWith(t, "ranged")
	ctx := context.Background()
	s := bucket.NewStore(m.Client(), "ranged", "p")
	put(t, s, "p/0000/x.ltx", "0123456789abcdef")
	if b, err := s.ReadRange(ctx, "p/0000/x.ltx", 10, 6); err != nil || string(b) != "abcdef" {
		t.Errorf("ReadRange(10, 6) = %q, %v; want \"abcdef\"", b, err)
	}
	if _, err := s.ReadRange(ctx, "p/0000/missing.ltx", 0, 16); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadRange of a missing object: %v; want os.ErrNotExist", err)
	}
}
