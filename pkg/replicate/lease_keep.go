package replicate

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// keepLease renews the lease every leaseRenew (every leaseRetry after a
// failed renewal) until ctx ends. It sends once on the returned channel
// when the lease object was taken by another writer. Transient failures
// (an outage) only close the upload gate as the lease nears expiry, by
// lease.valid; a later successful renewal opens it again.
func keepLease(ctx context.Context, l *lease, st *state, logger *slog.Logger) <-chan error {
	lost := make(chan error, 1)
	go func() {
		next := leaseRenew
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(next):
			}
			err := l.renew(ctx)
			switch {
			case errors.Is(err, errLeaseLost):
				logger.Error("lease lost: another writer took the replica prefix", "error", err.Error())
				lost <- err
				return
			case err != nil:
				if !failing {
					logger.Warn("lease renewal failing, retrying", "error", err.Error())
				}
				failing, next = true, leaseRetry
			default:
				if failing {
					logger.Info("lease renewed again")
				}
				failing, next = false, leaseRenew
			}
			if l.valid(time.Now()) {
				st.metrics.LeaseHeld.Set(1)
			} else {
				st.metrics.LeaseHeld.Set(0)
			}
		}
	}()
	return lost
}
