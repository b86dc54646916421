// Package ltxrestore writes a database from a Litestream restore plan as
// fast as the replica can serve it. Litestream v0.5.18 restores by
// compacting the whole plan into one LTX stream and decoding it on one
// core; here every file's page index is read first, each page is assigned
// to the last file of the plan that holds it, and the owned pages are then
// downloaded in parallel ranged parts, decoded as they stream in and
// written with WriteAt. The result is checked against the post-apply
// checksum in the last file's trailer, as Litestream does for snapshots.
package ltxrestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// Error classes: every error Restore returns wraps exactly one of these, or
// the context's error when the restore was cancelled or timed out.
var (
	// ErrCorrupt: the replica's data does not decode or does not match its
	// checksums (or the plan is not contiguous). Retrying will not help.
	ErrCorrupt = errors.New("corrupt replica data")
	// ErrDownload: reading from the replica failed.
	ErrDownload = errors.New("cannot read from the replica")
	// ErrWrite: the output file could not be created or written.
	ErrWrite = errors.New("cannot write the output")
)

// Options tune a restore. The zero value is usable.
type Options struct {
	// Concurrency is the number of requests in flight (default 16).
	Concurrency int
	// PartSize is the size of one ranged download (default 8 MiB).
	PartSize int64
	// WholeFileMax: files up to this size are fetched in one request during
	// planning and kept in memory (default 4 MiB, within MemoryBudget).
	WholeFileMax int64
	// MemoryBudget caps the bytes of whole files held in memory (default 256 MiB).
	MemoryBudget int64
	// Limits, when set, replaces Concurrency and MemoryBudget as the bound
	// on requests in flight and memory, shared with other restores.
	Limits *Limits
	// Sync fsyncs the output before returning. Callers that fsync on
	// install (pkg/restore does) can leave it off.
	Sync bool
	// Progress, when set, is called after each part is written.
	Progress func(Progress)
	// Logger receives debug lines; nil discards them.
	Logger *slog.Logger
}

// Progress is a snapshot of a running restore.
type Progress struct {
	BytesDownloaded, BytesPlanned int64
	PagesWritten, PagesTotal      int64
}

// Stats says what a restore did.
type Stats struct {
	Files           int
	Requests        int64
	BytesDownloaded int64
	PagesWritten    int64
	PageSize        uint32
	Commit          uint32 // pages in the restored database
	TXID            ltx.TXID
	Checksum        ltx.Checksum // post-apply checksum verified (0 if the files carry none)
	Size            int64        // bytes of the output file
	IndexDuration   time.Duration
	ApplyDuration   time.Duration
	Total           time.Duration
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.PartSize <= 0 {
		o.PartSize = 8 << 20
	}
	if o.WholeFileMax <= 0 {
		o.WholeFileMax = 4 << 20
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = 256 << 20
	}
	if o.Limits == nil {
		o.Limits = NewLimits(o.Concurrency, o.MemoryBudget)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// counters are shared by every goroutine of one restore.
type counters struct {
	requests, bytes, pages atomic.Int64
}

// Restore writes the database at the end of plan to outputPath, which must
// not exist. On error nothing is left at outputPath.
func Restore(ctx context.Context, client litestream.ReplicaClient, plan []*ltx.FileInfo, outputPath string, opt Options) (st Stats, err error) {
	start := time.Now()
	opt = opt.withDefaults()
	if len(plan) == 0 {
		return st, fmt.Errorf("ltxrestore: empty restore plan: %w", ErrCorrupt)
	}
	var c counters
	defer func() {
		st.Requests, st.BytesDownloaded, st.PagesWritten = c.requests.Load(), c.bytes.Load(), c.pages.Load()
		st.Total = time.Since(start)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("ltxrestore: interrupted: %w (%w)", ctx.Err(), err)
		}
	}()

	files, err := loadFiles(ctx, client, plan, opt, &c)
	defer func() {
		for _, f := range files {
			if f != nil && f.body != nil {
				opt.Limits.free(f.info.Size)
			}
		}
	}()
	if err != nil {
		return st, err
	}
	st.IndexDuration = time.Since(start)
	last := files[len(files)-1]
	st.Files, st.PageSize, st.Commit, st.TXID = len(files), last.hdr.PageSize, last.hdr.Commit, last.hdr.MaxTXID

	owners, err := assignOwners(files)
	if err != nil {
		return st, err
	}

	f, err := os.OpenFile(outputPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return st, fmt.Errorf("ltxrestore: create %s: %w: %w", outputPath, ErrWrite, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ltxrestore: close %s: %w: %w", outputPath, ErrWrite, cerr)
		}
		if err != nil {
			_ = os.Remove(outputPath)
		}
	}()
	st.Size = int64(st.Commit) * int64(st.PageSize)
	if err := preallocate(f, st.Size); err != nil {
		return st, fmt.Errorf("ltxrestore: size %s: %w: %w", outputPath, ErrWrite, err)
	}

	applyStart := time.Now()
	sum, err := apply(ctx, client, f, files, owners, opt, &c)
	st.ApplyDuration = time.Since(applyStart)
	if err != nil {
		return st, err
	}
	if want := expectedPages(st.Commit, st.PageSize); c.pages.Load() != want {
		return st, fmt.Errorf("ltxrestore: wrote %d pages, database has %d: %w", c.pages.Load(), want, ErrCorrupt)
	}
	if !last.hdr.NoChecksum() {
		got := ltx.ChecksumFlag | ltx.Checksum(sum)
		if got != last.trailer.PostApplyChecksum {
			return st, fmt.Errorf("ltxrestore: restored database checksum %s does not match %s in the trailer of %s: %w",
				got, last.trailer.PostApplyChecksum, last.name(), ErrCorrupt)
		}
		st.Checksum = got
	}
	if opt.Sync {
		if err := f.Sync(); err != nil {
			return st, fmt.Errorf("ltxrestore: fsync %s: %w: %w", outputPath, ErrWrite, err)
		}
	}
	return st, nil
}

// expectedPages is the number of pages a database of commit pages holds
// in LTX files: every page but SQLite's lock page.
func expectedPages(commit, pageSize uint32) int64 {
	n := int64(commit)
	if ltx.LockPgno(pageSize) <= commit {
		n--
	}
	return n
}

// PlanSize is the size of the database plan restores, from the header of
// its last file: one ranged read.
func PlanSize(ctx context.Context, client litestream.ReplicaClient, plan []*ltx.FileInfo) (int64, error) {
	if len(plan) == 0 {
		return 0, fmt.Errorf("ltxrestore: empty restore plan: %w", ErrCorrupt)
	}
	last := plan[len(plan)-1]
	b, err := fetch(ctx, client, last, 0, ltx.HeaderSize, &counters{})
	if err != nil {
		return 0, err
	}
	var h ltx.Header
	if err := h.UnmarshalBinary(b); err != nil {
		return 0, fmt.Errorf("ltxrestore: header of %s: %w: %w", ltx.FormatFilename(last.MinTXID, last.MaxTXID), ErrCorrupt, err)
	}
	return int64(h.Commit) * int64(h.PageSize), nil
}
