package cli

import (
	"log/slog"
	"math"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// memoryRatio is the share of the container's memory limit given to the Go
// heap as its soft limit (GOMEMLIMIT). The rest is for what the heap does
// not count: SQLite's own allocations, goroutine stacks, the runtime. A 4
// GiB restore inside an 80 MiB cgroup was OOM-killed without a soft limit
// and finished with 70% of it (bench/results.txt).
const memoryRatio = 0.7

// limitMemory sets the Go runtime's soft memory limit from the memory limit
// of the process's cgroup (v1 or v2), so that the garbage collector works
// harder near the limit instead of the kernel killing the process there.
// GOMEMLIMIT set in the environment wins (AUTOMEMLIMIT=off, read by the
// library, turns this off); with no cgroup limit (a laptop, `restore
// --verify`) nothing changes.
func limitMemory(logger *slog.Logger) {
	limit, err := memlimit.Set(memlimit.WithRatio(memoryRatio), memlimit.WithProvider(memlimit.FromCgroup))
	if err != nil {
		logger.Debug("Go memory limit left as it was: no container limit read", "error", err.Error())
		return
	}
	if limit == math.MaxInt64 {
		logger.Debug("Go memory limit: none (no container limit)")
		return
	}
	logger.Debug("Go memory limit", "gomemlimit_bytes", limit, "ratio", memoryRatio)
}
