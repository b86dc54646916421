package replicate

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/lease"
)

// keepLease renews the lease every lease.RenewEvery (every lease.Retry after a
// failed renewal) until ctx ends. It sends once on the returned channel
// when the lease object was taken by another writer. Transient failures
// (an outage) only close the upload gate as the lease nears expiry, by
// lease.Valid; a later successful renewal opens it again. stop ends the
// renewals and waits for an in-flight one, so that the release at shutdown
// never races a renewal.
func keepLease(ctx context.Context, l *lease.Lease, logger *slog.Logger) (lost <-chan error, stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	lostc := make(chan error, 1)
	go func() {
		defer close(done)
		next := lease.RenewEvery
		failing, skewed := false, false
		for {
			select {
			case <-ctx.Done():
				return
			case <-quit:
				return
			case <-time.After(next):
			}
			// A renewal in flight is let finish (bounded by
			// lease.CallTimeout): cancelled, it might land at the store
			// without us learning its ETag, and the release would fail.
			err := l.Renew(ctx)
			switch {
			case errors.Is(err, lease.ErrLost):
				logger.Error("lease lost: another writer took the replica prefix", "error", err.Error())
				lostc <- err
				return
			case errors.Is(err, lease.ErrClockSkew):
				// The lease stood down (lease.Renew): uploads are paused
				// and the object marked expired until the clock is back.
				if !skewed {
					s, _ := l.Skew()
					logger.Error("clock skew: not keeping the single-writer lease, uploads paused until the clock is back within the margin",
						"skew", s.Offset.Round(100*time.Millisecond).String(), "store", l.Endpoint(), "error", err.Error())
				}
				skewed, next = true, lease.Retry
			case err != nil:
				if !failing {
					logger.Warn("lease renewal failing, retrying", "error", err.Error())
				}
				failing, next = true, lease.Retry
			default:
				if skewed {
					s, _ := l.Skew()
					logger.Info("clock back within the single-writer lease's margin: lease taken back, uploads resume", "skew", s.Offset.Round(100*time.Millisecond).String())
				} else if failing {
					logger.Info("lease renewed again")
				}
				failing, skewed, next = false, false, lease.RenewEvery
			}
		}
	}()
	return lostc, func() { close(quit); <-done }
}
