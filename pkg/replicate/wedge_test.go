package replicate

import (
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// TestWedged: behind with no replica progress for wedgeAfter is wedged;
// any progress, or being caught up, clears it; a sidecar not yet
// initialised is never wedged.
func TestWedged(t *testing.T) {
	st := &state{cfgSync: time.Second, metrics: telemetry.NewMetrics().Series}
	t0 := time.Unix(1_700_000_000, 0)
	st.observe(5, 3, time.Time{}, t0)
	if got := st.wedgedLocked(t0.Add(time.Hour)); got != "" {
		t.Fatalf("not initialised but wedged: %s", got)
	}
	st.initialised = true
	if got := st.wedgedLocked(t0.Add(4 * time.Minute)); got != "" {
		t.Fatalf("wedged after 4 min: %s", got)
	}
	st.observe(6, 3, time.Time{}, t0.Add(6*time.Minute)) // local moved, replica did not
	if got := st.wedgedLocked(t0.Add(6 * time.Minute)); !strings.Contains(got, "no replication progress") {
		t.Fatalf("behind 6 min without progress, wedged = %q", got)
	}
	st.observe(6, 4, time.Time{}, t0.Add(7*time.Minute)) // replica advanced
	if got := st.wedgedLocked(t0.Add(11 * time.Minute)); got != "" {
		t.Fatalf("4 min after progress, wedged = %q", got)
	}
	if got := st.wedgedLocked(t0.Add(13 * time.Minute)); got == "" {
		t.Fatal("6 min after the last progress, not wedged")
	}
	st.observe(6, 6, time.Time{}, t0.Add(14*time.Minute)) // caught up
	if got := st.wedgedLocked(t0.Add(time.Hour)); got != "" {
		t.Fatalf("caught up, wedged = %q", got)
	}
	slow := &state{cfgSync: time.Minute, metrics: telemetry.NewMetrics().Series, initialised: true}
	slow.observe(2, 1, time.Time{}, t0)
	if got := slow.wedgedLocked(t0.Add(9 * time.Minute)); got != "" {
		t.Fatalf("SYNC_INTERVAL=1m: wedged after 9 min (limit 10 intervals): %s", got)
	}
}
