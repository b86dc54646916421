package replicate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/internal/fakestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestProbeExit: a store that lets a conditional write through stops the
// sidecar with 78 naming the override; one that enforces them is probed
// once; a store that fails is the store's error, for the wait to retry.
func TestProbeExit(t *testing.T) {
	down := errors.New("store down")
	for _, tc := range []struct {
		name     string
		store    func(*fakestore.Store)
		wantCode int // 0: no error
		wantErr  error
		probed   bool
	}{
		{name: "enforced", probed: true},
		{name: "If-None-Match ignored under concurrency", store: func(s *fakestore.Store) { s.RacingCreates = true }, wantCode: sysexit.Config, wantErr: lease.ErrUnconditional},
		{name: "If-Match on a missing key accepted", store: func(s *fakestore.Store) { s.IfMatchMissing = true }, wantCode: sysexit.Config, wantErr: lease.ErrUnconditional},
		{name: "store down", store: func(s *fakestore.Store) { s.Err = down }, wantErr: down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := fakestore.New()
			st.Prefix = "apps/x"
			if tc.store != nil {
				tc.store(st)
			}
			r := &runner{st: &state{url: "s3://backups/apps/x"}}
			probed := false
			err := r.probe(context.Background(), st, &probed)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) || probed != tc.probed {
				t.Fatalf("probe = %v (probed %v), want %v (probed %v)", err, probed, tc.wantErr, tc.probed)
			}
			if tc.wantCode != 0 {
				if c := sysexit.Code(err); c != tc.wantCode || !strings.Contains(err.Error(), "LEASE=false") {
					t.Fatalf("probe = %v, exit %d; want %d naming LEASE=false", err, c, tc.wantCode)
				}
			}
		})
	}
}
