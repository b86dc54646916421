package replicate

import (
	"fmt"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/dbfile"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
)

// What the sidecar watches on the node it runs on: its clock against the
// store's (measured by the lease, pkg/lease/skew.go) and the free space of
// the database's filesystem.

// observeNode registers their series: the clock skew only with a lease
// (without one nothing measures it), the free space always.
func observeNode(m *telemetry.Series, st *state, leased bool) {
	if leased {
		m.ObserveClockSkew(st.clockSkew)
	}
	m.ObserveSpace(func() (free, need float64) {
		st.mu.Lock()
		defer st.mu.Unlock()
		return float64(st.space.Free), float64(st.space.Need)
	})
}

// spaceCheckInterval is how often the free space is compared with what a
// snapshot needs: one statfs and two stats.
const spaceCheckInterval = 5 * time.Second

// checkSpace compares the free space of DB_PATH's filesystem with what
// Litestream needs to stage a full snapshot of the database there
// (dbfile.SnapshotNeed). Upstream #1310: the first sync stages a whole copy
// locally and, short of space, failed with nothing said. It reports, and
// does not stop anything: Litestream keeps trying, and an incremental sync
// may still fit. Unready while short, with both figures in the reason, the
// series, one line when it turns short and one when it recovers.
func (r *runner) checkSpace() {
	sp, err := dbfile.CheckSpace(r.cfg.DBPath)
	if err != nil {
		return // a filesystem that cannot be asked: the sync itself says what is wrong
	}
	st, logger := r.st, r.logger
	st.mu.Lock()
	wasShort := st.space.Short()
	st.space = sp
	st.mu.Unlock()
	problem := ""
	if sp.Short() {
		problem = fmt.Sprintf("not enough free space to stage a snapshot of %s: the filesystem of DB_PATH (%s) has %s free (%d bytes) and a snapshot needs %s (%d bytes: the database, its WAL and 1 MiB); give the volume more room",
			r.cfg.DBPath, sp.Dir, dbfile.Bytes(sp.Free), sp.Free, dbfile.Bytes(sp.Need), sp.Need)
	}
	st.setProblem("space", problem)
	switch {
	case sp.Short() && !wasShort:
		logger.Error("not enough free space to stage a snapshot of the database", "dir", sp.Dir,
			"free_bytes", sp.Free, "free", dbfile.Bytes(sp.Free), "needed_bytes", sp.Need, "needed", dbfile.Bytes(sp.Need))
	case !sp.Short() && wasShort:
		logger.Info("free space back: a snapshot of the database fits", "dir", sp.Dir, "free", dbfile.Bytes(sp.Free), "needed", dbfile.Bytes(sp.Need))
	}
}
