package replicate

import (
	"os"
	"time"

	"github.com/superfly/ltx"
)

// oldestUnreplicated returns when Litestream wrote the oldest local L0 file
// above the replica's position: the time of the oldest local commit not yet
// in the replica (to within Litestream's 1 s WAL monitor). Zero when it
// cannot tell. Measuring from the file, not from when the sidecar first saw
// the replica behind, keeps the lag honest under a steady write load, where
// the replica may never be seen exactly caught up yet is never far behind.
func oldestUnreplicated(l0Dir string, remote ltx.TXID) time.Time {
	ents, err := os.ReadDir(l0Dir)
	if err != nil {
		return time.Time{}
	}
	var oldest time.Time
	for _, e := range ents {
		minTXID, _, err := ltx.ParseFilename(e.Name())
		if err != nil || minTXID <= remote {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if oldest.IsZero() || fi.ModTime().Before(oldest) {
			oldest = fi.ModTime()
		}
	}
	return oldest
}
