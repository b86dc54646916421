package replicate

import (
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestStopCode: the exit code of a stop in each thing the start can wait
// for (docs/design.md "Stopped while waiting").
func TestStopCode(t *testing.T) {
	for _, tc := range []struct {
		cause waitCause
		want  int
		why   string
	}{
		{waitApp, sysexit.OK, "no database yet: nothing to sync, nothing lost"},
		{waitStore, sysexit.Unavailable, "the store never answered: no final sync ran, as restore says of it"},
		{waitHolder, sysexit.TempFail, "another writer holds the lease: the restart retries"},
		{waitClock, sysexit.TempFail, "the clock is off: the restart retries once it is fixed"},
		{waitTurn, sysexit.TempFail, "an earlier database's lease: as for another writer"},
	} {
		if got := stopCode(tc.cause); got != tc.want {
			t.Errorf("stopCode(%s) = %d, want %d: %s", tc.cause.why(), got, tc.want, tc.why)
		}
	}
}
