package replicate

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/superfly/ltx"
)

// SQLite's WAL layout (https://sqlite.org/fileformat.html#the_write_ahead_log):
// a 32-byte header, then frames of a 24-byte header and one page. A frame
// belongs to the WAL's current generation when its salts equal the header's.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
)

// lagClock estimates when the oldest commit not yet in the replica was
// made, WAL included. Litestream turns the WAL into local L0 files once per
// sync, and uploads those; a commit is therefore pending either in a local
// L0 file above the replica's TXID, or as WAL frames beyond the WAL
// position the newest L0 file ends at (its header's WALOffset+WALSize and
// salts). SQLite keeps no commit times, so the clock looks, at every poll
// (pollInterval, 250 ms), for a commit frame beyond that position:
//
//   - The oldest pending WAL commit T was made after the last poll that saw
//     none there, or, when the newest L0 file appeared since, after
//     Litestream read the WAL for it (the file header's timestamp). The
//     clock reports that earliest possible time: the gauge may overstate
//     the lag by up to one poll interval, never understate it (but for the
//     milliseconds Litestream takes between reading the WAL and stamping
//     the header), so "every commit older than the lag is in the replica"
//     holds. Under steady writes T follows Litestream's read at once and
//     the estimate is close to exact. A single pending commit is timed
//     exactly: the WAL's mtime is its write.
//   - When Litestream turns those frames into an L0 file, the estimate moves
//     with them to that file, so the age keeps counting while it uploads
//     or while the store is down. An L0 file made of frames no poll saw
//     (written between two polls) counts from the last poll before it.
//   - The gauge is set at each poll, so a scrape reads it up to one poll
//     interval old: it reads up to 250 ms low by that alone.
//
// Cost per poll: one directory listing of L0, one open of the WAL with a
// few 24-byte reads, and one LTX header read when a new L0 file appears.
//
// A lagClock is used by the loop goroutine only.
type lagClock struct {
	walPath, l0Dir string

	newest     string   // name of the newest local L0 file, "" if none
	newestMax  ltx.TXID // its max TXID
	endSalt1   uint32   // WAL position the newest L0 file ends at
	endSalt2   uint32
	endOffset  int64
	walPending time.Time // estimate of the oldest commit in the WAL beyond that position; zero if none
	clearAt    time.Time // last time nothing was beyond that position (a poll, or Litestream's read)

	// carried: estimates moved from WAL frames to the L0 file (by min TXID)
	// Litestream made of them; dropped once the replica holds the file.
	carried map[ltx.TXID]time.Time
}

// maxCarried bounds carried during a long outage (one L0 file per sync);
// files beyond it fall back to their mtime, within a sync interval.
const maxCarried = 4096

func newLagClock(walPath, l0Dir string) *lagClock {
	return &lagClock{walPath: walPath, l0Dir: l0Dir, carried: map[ltx.TXID]time.Time{}}
}

// oldest returns the estimated time of the oldest commit not in the replica
// (at TXID remote; local is Litestream's local position), zero if none is
// pending or it cannot tell (the caller then counts from when it first saw
// the replica behind).
func (c *lagClock) oldest(local, remote ltx.TXID, now time.Time) time.Time {
	oldestL0 := c.scanL0(remote)
	c.watchWAL(now)
	for txid := range c.carried {
		if remote > 0 && txid <= remote {
			delete(c.carried, txid)
		}
	}
	switch {
	case local > remote && remote > 0:
		// Pending L0 files hold older commits than the WAL beyond them.
		if !oldestL0.IsZero() {
			return oldestL0
		}
		return c.walPending
	case local > remote:
		// Litestream zeroes the replica's position after a failed sync,
		// until it lists the replica again: which files are pending is unknown.
		return time.Time{}
	default:
		return c.walPending
	}
}

// scanL0 lists the L0 directory: it follows the newest file (and the WAL
// position it ends at), and returns the estimated time of the oldest commit
// in the files above remote (zero if none).
func (c *lagClock) scanL0(remote ltx.TXID) time.Time {
	ents, err := os.ReadDir(c.l0Dir)
	if err != nil {
		return time.Time{}
	}
	newest, newestMax := "", ltx.TXID(0)
	type file struct {
		minTXID ltx.TXID
		ent     os.DirEntry
	}
	var above []file
	for _, e := range ents {
		minTXID, maxTXID, err := ltx.ParseFilename(e.Name())
		if err != nil {
			continue
		}
		if maxTXID > newestMax {
			newest, newestMax = e.Name(), maxTXID
		}
		if remote > 0 && minTXID > remote {
			above = append(above, file{minTXID, e})
		}
	}
	// First follow the newest file: the estimate of WAL frames it was made
	// of moves to it before the files are timed.
	if newest != c.newest {
		c.follow(newest, newestMax)
	}
	var oldest time.Time
	for _, f := range above {
		t, ok := c.carried[f.minTXID]
		if fi, err := f.ent.Info(); err == nil && (!ok || fi.ModTime().Before(t)) {
			t = fi.ModTime()
		}
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	return oldest
}

// follow records a new newest L0 file. The WAL frames seen pending beyond
// the previous file's end are now the first commits of the file after it.
func (c *lagClock) follow(name string, maxTXID ltx.TXID) {
	est := c.walPending
	if est.IsZero() {
		est = c.clearAt // frames no poll saw: made after the last poll
	}
	if !est.IsZero() && c.newestMax > 0 && len(c.carried) < maxCarried {
		c.carried[c.newestMax+1] = est
	}
	c.walPending, c.clearAt = time.Time{}, time.Time{}
	c.newest, c.newestMax = name, maxTXID
	c.endSalt1, c.endSalt2, c.endOffset = 0, 0, 0
	if name == "" {
		return
	}
	f, err := os.Open(filepath.Join(c.l0Dir, name))
	if err != nil {
		return
	}
	defer f.Close()
	dec := ltx.NewDecoder(f)
	if err := dec.DecodeHeader(); err != nil {
		return
	}
	h := dec.Header()
	c.endSalt1, c.endSalt2, c.endOffset = h.WALSalt1, h.WALSalt2, h.WALOffset+h.WALSize
	if h.Timestamp > 0 {
		c.clearAt = time.UnixMilli(h.Timestamp) // Litestream read the WAL up to the end just before
	}
}

// watchWAL updates walPending: the estimated time of the oldest commit in
// the WAL beyond the newest L0 file's end (see lagClock). It is kept for as
// long as commits stay pending beyond that end: the oldest stays the oldest.
func (c *lagClock) watchWAL(now time.Time) {
	pending, single, mtime := c.walBeyondEnd()
	switch {
	case !pending:
		c.walPending, c.clearAt = time.Time{}, now
	case !c.walPending.IsZero():
	case single && !mtime.IsZero() && !mtime.After(now):
		c.walPending = mtime
		if mtime.Before(c.clearAt) {
			c.walPending = c.clearAt
		}
	case !c.clearAt.IsZero():
		c.walPending = c.clearAt
	default:
		c.walPending = now // no earlier bound known (first poll)
	}
}

// walBeyondEnd reports whether the WAL holds a commit of its current
// generation beyond the position Litestream has converted up to, whether
// that commit is the WAL's last frame (a single pending commit, whose time
// is the WAL's mtime), and the WAL's mtime. After a checkpoint restarted
// the WAL (new salts), Litestream's position is void and any commit of the
// new generation, from the first frame, is beyond it. It walks frame
// headers from that position to the first commit frame: frames of a
// transaction that rolled back stay in the file with the current salts but
// no commit frame, and must not count. An uncommitted transaction longer
// than maxScanFrames counts as pending: it is about to commit, and the walk
// stays cheap.
func (c *lagClock) walBeyondEnd() (pending, single bool, mtime time.Time) {
	f, err := os.Open(c.walPath)
	if err != nil {
		return false, false, time.Time{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, false, time.Time{}
	}
	var hdr [walHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return false, false, time.Time{} // empty or truncated WAL: nothing pending
	}
	if magic := binary.BigEndian.Uint32(hdr[0:]); magic != 0x377f0682 && magic != 0x377f0683 {
		return false, false, time.Time{}
	}
	pageSize := int64(binary.BigEndian.Uint32(hdr[8:]))
	if pageSize == 1 {
		pageSize = 65536 // how the header spells the largest page size
	}
	salt1, salt2 := binary.BigEndian.Uint32(hdr[16:]), binary.BigEndian.Uint32(hdr[20:])
	at := int64(walHeaderSize)
	if salt1 == c.endSalt1 && salt2 == c.endSalt2 && c.endOffset > walHeaderSize {
		at = c.endOffset
	}
	// frame reads the header of the frame at off: ok when it is of the
	// current generation; commit when it ends a transaction.
	var buf [walFrameHeaderSize]byte
	frame := func(off int64) (ok, commit bool) {
		if _, err := f.ReadAt(buf[:], off); err != nil {
			return false, false // end of the WAL
		}
		if binary.BigEndian.Uint32(buf[8:]) != salt1 || binary.BigEndian.Uint32(buf[12:]) != salt2 {
			return false, false // a frame of an older generation: the end
		}
		return true, binary.BigEndian.Uint32(buf[4:]) != 0 // database size after commit
	}
	for range maxScanFrames {
		ok, commit := frame(at)
		if !ok {
			return false, false, time.Time{}
		}
		at += walFrameHeaderSize + pageSize
		if commit {
			more, _ := frame(at)
			return true, !more, fi.ModTime()
		}
	}
	return true, false, fi.ModTime()
}

// maxScanFrames bounds walBeyondEnd's walk (24-byte reads) per poll.
const maxScanFrames = 1024
