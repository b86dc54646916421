package ltxrestore

import (
	"context"
	"sync/atomic"
)

// Limits bound what restores running at once hold together: requests in
// flight, and bytes of whole files kept in memory. Several databases of one
// pod restore in parallel under one Limits, so that neither grows with
// their number. A restore without one has its own (Options.Concurrency,
// Options.MemoryBudget).
type Limits struct {
	slots  chan struct{}
	kept   atomic.Int64
	budget int64
}

// NewLimits allows concurrency requests in flight and memoryBudget bytes
// of whole files in memory, across every restore that shares it.
func NewLimits(concurrency int, memoryBudget int64) *Limits {
	return &Limits{slots: make(chan struct{}, max(concurrency, 1)), budget: memoryBudget}
}

// acquire takes a request slot; release gives it back.
func (l *Limits) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Limits) release() { <-l.slots }

// keep reserves n bytes of memory for a whole file, if the budget allows.
func (l *Limits) keep(n int64) bool {
	if l.kept.Add(n) <= l.budget {
		return true
	}
	l.kept.Add(-n)
	return false
}

// free returns n reserved bytes.
func (l *Limits) free(n int64) { l.kept.Add(-n) }

// InUse is what the restores sharing l hold now: requests in flight and
// bytes of whole files in memory.
func (l *Limits) InUse() (requests int, bytes int64) { return len(l.slots), l.kept.Load() }

// DefaultLimits are one restore's defaults (Options), for several to share.
func DefaultLimits() *Limits {
	o := Options{}.withDefaults()
	return o.Limits
}
