package ltxrestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc64"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// frame is one page frame of an LTX file, from its page index. A restore
// holds one per page of every file it reads, so it is kept small.
type frame struct {
	off  int64 // from the start of the file
	pgno uint32
	size uint32 // page header + size prefix + compressed data
}

// end is the offset just past the frame.
func (fr frame) end() int64 { return fr.off + int64(fr.size) }

// file is one plan entry with what planning learnt about it.
type file struct {
	info    *ltx.FileInfo
	hdr     ltx.Header
	trailer ltx.Trailer
	frames  []frame // sorted by offset
	body    []byte  // whole file, when small enough to keep; nil otherwise
	head    []byte  // header bytes
	// The end-of-pages marker, page index, its size and the trailer
	// without the file checksum: their length and CRC, which is all the
	// file checksum needs of them.
	tailLen int64
	tailCRC uint64
}

func (f *file) name() string {
	return fmt.Sprintf("L%d/%s", f.info.Level, ltx.FormatFilename(f.info.MinTXID, f.info.MaxTXID))
}

// tailGuess is how much of a large file's end is read first, hoping it
// holds the whole page index (about 10 bytes per page).
const tailGuess = 1 << 20

var isoTable = crc64.MakeTable(crc64.ISO)

// loadFiles reads the header, trailer and page index of every plan file,
// in parallel, and checks that the plan is one contiguous chain.
func loadFiles(ctx context.Context, client litestream.ReplicaClient, plan []*ltx.FileInfo, opt Options, c *counters) ([]*file, error) {
	files := make([]*file, len(plan))
	err := forEach(ctx, opt.Limits, opt.Concurrency, len(plan), func(ctx context.Context, i int) error {
		f := &file{info: plan[i]}
		files[i] = f
		if f.info.Size < ltx.HeaderSize+ltx.TrailerSize+8 {
			return fmt.Errorf("ltxrestore: %s is %d bytes, too short for an LTX file: %w", f.name(), f.info.Size, ErrCorrupt)
		}
		if f.info.Size <= opt.WholeFileMax && opt.Limits.keep(f.info.Size) {
			if err := f.loadWhole(ctx, client, c); err != nil {
				opt.Limits.free(f.info.Size)
				f.body = nil
				return err
			}
			return nil
		}
		return f.loadIndex(ctx, client, c)
	})
	if err != nil {
		return files, err // the caller frees what was kept
	}
	return files, checkChain(files)
}

// loadWhole fetches a small file in one request and verifies its file checksum.
func (f *file) loadWhole(ctx context.Context, client litestream.ReplicaClient, c *counters) error {
	b, err := fetch(ctx, client, f.info, 0, 0, c)
	if err != nil {
		return err
	}
	if int64(len(b)) != f.info.Size {
		return fmt.Errorf("ltxrestore: %s: read %d bytes, listed as %d: %w", f.name(), len(b), f.info.Size, ErrCorrupt)
	}
	// The file checksum covers the decompressed pages, so checking it
	// means decoding the file once in order: affordable for small files.
	// Large files are covered by the database checksum at the end.
	if err := ltx.NewDecoder(bytes.NewReader(b)).Verify(); err != nil {
		return fmt.Errorf("ltxrestore: %s: %w: %w", f.name(), ErrCorrupt, err)
	}
	f.body = b
	if err := f.parseHeader(b[:ltx.HeaderSize]); err != nil {
		return err
	}
	return f.parseTail(b)
}

// loadIndex fetches only the header and the tail (page index + trailer) of
// a large file; its pages are fetched later, in ranged parts.
func (f *file) loadIndex(ctx context.Context, client litestream.ReplicaClient, c *counters) error {
	hdr, err := fetch(ctx, client, f.info, 0, ltx.HeaderSize, c)
	if err != nil {
		return err
	}
	if err := f.parseHeader(hdr); err != nil {
		return err
	}
	f.head = hdr
	off := max(f.info.Size-tailGuess, 0)
	tail, err := fetch(ctx, client, f.info, off, f.info.Size-off, c)
	if err != nil {
		return err
	}
	need := indexLen(tail) + ltx.PageHeaderSize // and the end-of-pages marker before it
	if need <= ltx.PageHeaderSize || int64(need) > f.info.Size-ltx.HeaderSize {
		return fmt.Errorf("ltxrestore: %s: page index size out of range: %w", f.name(), ErrCorrupt)
	}
	if need > len(tail) {
		off = f.info.Size - int64(need)
		if tail, err = fetch(ctx, client, f.info, off, int64(need), c); err != nil {
			return err
		}
	}
	return f.parseTail(tail)
}

// indexLen is the length of page index + size field + trailer, read from
// the size field that precedes the trailer; -1 if b is too short.
func indexLen(b []byte) int {
	if len(b) < ltx.TrailerSize+8 {
		return -1
	}
	n := binary.BigEndian.Uint64(b[len(b)-ltx.TrailerSize-8:])
	if n > 1<<40 {
		return -1
	}
	return int(n) + 8 + ltx.TrailerSize
}

func (f *file) parseHeader(b []byte) error {
	if err := f.hdr.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("ltxrestore: %s: header: %w: %w", f.name(), ErrCorrupt, err)
	}
	if err := f.hdr.Validate(); err != nil {
		return fmt.Errorf("ltxrestore: %s: header: %w: %w", f.name(), ErrCorrupt, err)
	}
	if f.hdr.MinTXID != f.info.MinTXID || f.hdr.MaxTXID != f.info.MaxTXID {
		return fmt.Errorf("ltxrestore: %s: header names TXIDs %s-%s: %w", f.name(), f.hdr.MinTXID, f.hdr.MaxTXID, ErrCorrupt)
	}
	return nil
}

// parseTail decodes the page index and trailer at the end of b (which ends
// where the file ends).
func (f *file) parseTail(b []byte) error {
	n := indexLen(b)
	if n < 0 || n+ltx.PageHeaderSize > len(b) {
		return fmt.Errorf("ltxrestore: %s: page index truncated: %w", f.name(), ErrCorrupt)
	}
	tail := b[len(b)-n-ltx.PageHeaderSize : len(b)-ltx.ChecksumSize]
	f.tailLen, f.tailCRC = int64(len(tail)), crc64.Checksum(tail, isoTable)
	if string(tail[:ltx.PageHeaderSize]) != string(make([]byte, ltx.PageHeaderSize)) {
		return fmt.Errorf("ltxrestore: %s: no end-of-pages marker before the page index: %w", f.name(), ErrCorrupt)
	}
	if err := f.trailer.UnmarshalBinary(b[len(b)-ltx.TrailerSize:]); err != nil {
		return fmt.Errorf("ltxrestore: %s: trailer: %w: %w", f.name(), ErrCorrupt, err)
	}
	if err := f.trailer.Validate(f.hdr); err != nil {
		return fmt.Errorf("ltxrestore: %s: trailer: %w: %w", f.name(), ErrCorrupt, err)
	}
	r := bytes.NewReader(b[len(b)-n : len(b)-8-ltx.TrailerSize])
	indexStart := f.info.Size - int64(n)
	for {
		pgno, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("ltxrestore: %s: page index: %w: %w", f.name(), ErrCorrupt, err)
		}
		if pgno == 0 {
			break
		}
		off, err1 := binary.ReadUvarint(r)
		size, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || pgno > 1<<32-1 || off < ltx.HeaderSize || int64(off+size) > indexStart || size < ltx.PageHeaderSize || size > 1<<31 {
			return fmt.Errorf("ltxrestore: %s: page index entry for page %d is invalid: %w", f.name(), pgno, ErrCorrupt)
		}
		f.frames = append(f.frames, frame{pgno: uint32(pgno), off: int64(off), size: uint32(size)})
	}
	slices.SortFunc(f.frames, func(a, b frame) int { return cmp.Compare(a.off, b.off) })
	return nil
}

// checkChain proves the plan restores one database: it starts with a
// snapshot, TXIDs leave no gap and always advance (a compacted file may
// overlap its predecessor, as CalcRestorePlan allows), page sizes agree,
// and where files meet exactly, the pre-apply checksum is the
// predecessor's post-apply checksum.
func checkChain(files []*file) error {
	if !files[0].hdr.IsSnapshot() {
		return fmt.Errorf("ltxrestore: plan starts with %s, not a snapshot: %w", files[0].name(), ErrCorrupt)
	}
	for i := 1; i < len(files); i++ {
		prev, cur := files[i-1], files[i]
		switch {
		case cur.hdr.MinTXID > prev.hdr.MaxTXID+1 || cur.hdr.MaxTXID <= prev.hdr.MaxTXID:
			return fmt.Errorf("ltxrestore: plan has a gap between %s and %s: %w", prev.name(), cur.name(), ErrCorrupt)
		case cur.hdr.PageSize != prev.hdr.PageSize:
			return fmt.Errorf("ltxrestore: %s has page size %d, %s has %d: %w", cur.name(), cur.hdr.PageSize, prev.name(), prev.hdr.PageSize, ErrCorrupt)
		case cur.hdr.MinTXID == prev.hdr.MaxTXID+1 && !cur.hdr.NoChecksum() && !prev.hdr.NoChecksum() && cur.hdr.PreApplyChecksum != prev.trailer.PostApplyChecksum:
			return fmt.Errorf("ltxrestore: %s does not continue %s (checksum %s, expected %s): %w",
				cur.name(), prev.name(), cur.hdr.PreApplyChecksum, prev.trailer.PostApplyChecksum, ErrCorrupt)
		}
	}
	return nil
}

// assignOwners gives each page of the final database to the last plan
// file that holds it, so every page is downloaded and written once and the
// files can be applied in any order. A page no file holds is corruption.
func assignOwners(files []*file) ([]int32, error) {
	last := files[len(files)-1].hdr
	owners := make([]int32, last.Commit)
	for i := range owners {
		owners[i] = -1
	}
	for i, f := range files {
		for _, fr := range f.frames {
			if fr.pgno <= last.Commit {
				owners[fr.pgno-1] = int32(i)
			}
		}
	}
	lock := ltx.LockPgno(last.PageSize)
	for i, o := range owners {
		if o < 0 && uint32(i+1) != lock {
			return nil, fmt.Errorf("ltxrestore: page %d of %d is in no file of the plan: %w", i+1, last.Commit, ErrCorrupt)
		}
	}
	return owners, nil
}

// fetch reads size bytes at off (size 0: to the end) of a plan file.
func fetch(ctx context.Context, client litestream.ReplicaClient, info *ltx.FileInfo, off, size int64, c *counters) ([]byte, error) {
	c.requests.Add(1)
	rc, err := client.OpenLTXFile(ctx, info.Level, info.MinTXID, info.MaxTXID, off, size)
	if err != nil {
		return nil, downloadErr(info, err)
	}
	defer rc.Close()
	n := size
	if n == 0 {
		n = info.Size - off
	}
	b := make([]byte, n)
	m, err := io.ReadFull(rc, b)
	c.bytes.Add(int64(m))
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("ltxrestore: L%d/%s: short read %d of %d bytes at %d: %w", info.Level,
			ltx.FormatFilename(info.MinTXID, info.MaxTXID), m, n, off, ErrCorrupt)
	case err != nil:
		return nil, downloadErr(info, err)
	}
	return b, nil
}

func downloadErr(info *ltx.FileInfo, err error) error {
	return fmt.Errorf("ltxrestore: read L%d/%s: %w: %w", info.Level, ltx.FormatFilename(info.MinTXID, info.MaxTXID), ErrDownload, err)
}

// forEach runs fn for 0..n-1 on up to workers goroutines; the first error
// cancels the rest and is returned.
func forEach(ctx context.Context, lim *Limits, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				err := lim.acquire(ctx)
				if err == nil {
					err = fn(ctx, i)
					lim.release()
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}
