package bucket_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
)

// TestClockSkew measures, through the client bucket.New builds, a store
// whose Date is shifted: within the 1 s resolution it proves nothing;
// beyond it, the offset is found to well under a second once a few
// responses are combined; a clock that moves starts the measurement afresh.
func TestClockSkew(t *testing.T) {
	var shift atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Date as a store stamps it: its clock, truncated to the second.
		w.Header().Set("Date", time.Now().Add(time.Duration(shift.Load())).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	store, err := bucket.New(&config.Config{ReplicaURL: "s3://backups/app", S3Endpoint: srv.URL, S3Region: "us-east-1", AccessKeyID: "id", SecretAccessKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Clock.Last(); ok {
		t.Fatal("a measurement before any request")
	}
	measure := func(d time.Duration, n int) bucket.Skew {
		t.Helper()
		shift.Store(int64(d))
		for range n {
			if _, err := bucket.RawClient(store).BucketExists(context.Background(), "backups"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond) // Date's second moves under the requests
		}
		s, ok := store.Clock.Last()
		if !ok {
			t.Fatal("no measurement")
		}
		return s
	}

	for _, tc := range []struct {
		shift     time.Duration
		n         int
		sureAbove time.Duration // |Sure| must exceed it (0: must be 0)
	}{
		{0, 1, 0},
		{0, 8, 0},
		{700 * time.Millisecond, 8, 0}, // found to within its interval, below lease.MaxSkew
		// One response proves the shift less Date's truncation (up to 1 s)
		// and the time its headers took to come back: a loaded machine
		// proved 28.9998 s of 30 once.
		{30 * time.Second, 1, 28 * time.Second},
		{30 * time.Second, 8, 29 * time.Second},
		{-30 * time.Second, 1, 28 * time.Second}, // a step: starts afresh
		{-30 * time.Second, 8, 29 * time.Second},
		{0, 1, 0}, // back: the first response after the step counts
	} {
		s := measure(tc.shift, tc.n)
		if d := (s.Offset - tc.shift).Abs(); d > s.Slack+50*time.Millisecond || s.Slack > 600*time.Millisecond {
			t.Errorf("shift %s, %d responses: offset %s ± %s does not hold the shift", tc.shift, tc.n, s.Offset, s.Slack)
		}
		if tc.n > 1 && tc.shift%time.Second == 0 && s.Slack > 400*time.Millisecond {
			t.Errorf("shift %s: %d responses narrowed the offset only to ± %s", tc.shift, tc.n, s.Slack)
		}
		switch sure := s.Sure().Abs(); {
		case tc.sureAbove == 0 && sure != 0 && tc.shift.Abs() < 500*time.Millisecond:
			t.Errorf("shift %s: proved a skew of %s", tc.shift, sure)
		case tc.sureAbove > 0 && sure <= tc.sureAbove:
			t.Errorf("shift %s: proved only %s", tc.shift, sure)
		case tc.sureAbove > 0 && (s.Sure() > 0) != (tc.shift > 0):
			t.Errorf("shift %s: sure %s has the wrong sign", tc.shift, s.Sure())
		}
	}
}
