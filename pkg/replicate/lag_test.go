package replicate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// The lag is the age of the oldest local LTX file above the replica, so a
// replica that keeps up under steady writes shows a small lag, not the time
// since it was last seen exactly caught up.
func TestLagFromOldestUnreplicatedFile(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for txid, age := range map[ltx.TXID]time.Duration{5: 40 * time.Second, 6: 3 * time.Second, 7: time.Second} {
		p := filepath.Join(dir, ltx.FormatFilename(txid, txid))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	st := &state{metrics: telemetry.NewMetrics().Series}

	// Replica at 5: the oldest commit not in it is 6, written 3 s ago.
	lag := st.observe(7, 5, oldestUnreplicated(dir, 5), now)
	if lag < 2*time.Second || lag > 4*time.Second {
		t.Fatalf("lag with the replica at 5 = %s, want about 3s", lag)
	}
	// The sidecar saw it behind since long ago, but the replica advanced.
	lag = st.observe(7, 6, oldestUnreplicated(dir, 6), now)
	if lag > 2*time.Second {
		t.Fatalf("lag with the replica at 6 = %s, want about 1s", lag)
	}
	if lag = st.observe(7, 7, oldestUnreplicated(dir, 7), now); lag != 0 {
		t.Fatalf("caught up: lag %s, want 0", lag)
	}
	// Unknown file times: the lag runs from when it was first seen behind.
	st.observe(8, 7, time.Time{}, now)
	if lag = st.observe(8, 7, time.Time{}, now.Add(10*time.Second)); lag != 10*time.Second {
		t.Fatalf("fallback lag %s, want 10s", lag)
	}
}
