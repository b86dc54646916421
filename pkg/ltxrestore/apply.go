package ltxrestore

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"sync"

	"github.com/benbjohnson/litestream"
	"github.com/pierrec/lz4/v4"
	"github.com/superfly/ltx"
)

// part is a byte range of one file holding frames to apply.
//
// A file kept in memory was verified whole while planning, so its parts
// hold only the frames it owns. A ranged file is verified here: its parts
// cover every frame, each part hashes what it decodes (crc over hashLen
// bytes), and the parts' CRCs are combined into the file checksum. Frames
// of pages a later file owns are decoded and hashed but not written.
type part struct {
	file       int
	start, end int64
	frames     []frame
	verify     bool
	crc        uint64
	hashLen    int64
}

// skipGap: a run of unowned bytes longer than this ends a part.
const skipGap = 256 << 10

// writeRun is how many bytes of consecutive pages are gathered into one WriteAt.
const writeRun = 1 << 20

func makeParts(files []*file, owners []int32, partSize int64) ([]part, error) {
	var parts []part
	for i, f := range files {
		verify := f.body == nil
		if verify {
			if err := contiguous(f); err != nil {
				return nil, err
			}
		}
		var cur part
		first := 0
		for j, fr := range f.frames {
			if !verify && !owns(owners, i, fr.pgno) {
				continue
			}
			if len(cur.frames) > 0 && (fr.off-cur.end > skipGap || fr.end()-cur.start > partSize) {
				parts = append(parts, cur)
				cur = part{}
			}
			if len(cur.frames) == 0 {
				cur, first = part{file: i, start: fr.off, verify: verify}, j
			}
			if verify {
				// Every frame is in some part, in order: share the index
				// rather than copy it (one frame per page of the database).
				cur.frames = f.frames[first : j+1]
			} else {
				cur.frames = append(cur.frames, fr)
			}
			cur.end = fr.end()
		}
		if len(cur.frames) > 0 {
			parts = append(parts, cur)
		}
	}
	return parts, nil
}

func owns(owners []int32, file int, pgno uint32) bool {
	return pgno <= uint32(len(owners)) && owners[pgno-1] == int32(file)
}

// contiguous checks that a ranged file's frames tile the bytes between the
// header and the end-of-pages marker, so hashing them in order hashes the file.
func contiguous(f *file) error {
	at := int64(ltx.HeaderSize)
	for _, fr := range f.frames {
		if fr.off != at {
			return fmt.Errorf("ltxrestore: %s: page index has a hole or overlap at byte %d: %w", f.name(), at, ErrCorrupt)
		}
		at += int64(fr.size)
	}
	if end := f.info.Size - f.tailLen - ltx.ChecksumSize; at != end {
		return fmt.Errorf("ltxrestore: %s: pages end at byte %d, the page index starts at %d: %w", f.name(), at, end, ErrCorrupt)
	}
	return nil
}

// verifyFiles checks each ranged file's checksum from its parts' CRCs.
func verifyFiles(files []*file, parts []part) error {
	crcs := make([]uint64, len(files))
	for i, f := range files {
		if f.body == nil {
			crcs[i] = crc64.Checksum(f.head, isoTable)
		}
	}
	for _, p := range parts {
		if p.verify {
			crcs[p.file] = crc64Combine(crcs[p.file], p.crc, p.hashLen)
		}
	}
	for i, f := range files {
		if f.body != nil {
			continue
		}
		got := ltx.ChecksumFlag | ltx.Checksum(crc64Combine(crcs[i], f.tailCRC, f.tailLen))
		if got != f.trailer.FileChecksum {
			return fmt.Errorf("ltxrestore: %s: file checksum %s does not match %s in its trailer: %w", f.name(), got, f.trailer.FileChecksum, ErrCorrupt)
		}
	}
	return nil
}

// apply downloads, decodes and writes every part, and returns the XOR of
// the page checksums written (the database's rolling checksum, unflagged).
func apply(ctx context.Context, client litestream.ReplicaClient, out *os.File, files []*file, owners []int32, opt Options, c *counters) (uint64, error) {
	parts, err := makeParts(files, owners, opt.PartSize)
	if err != nil {
		return 0, err
	}
	var planned int64
	for _, p := range parts {
		if files[p.file].body == nil {
			planned += p.end - p.start
		}
	}
	pageSize := files[len(files)-1].hdr.PageSize
	// Litestream v0.5 writes files without a post-apply checksum
	// (HeaderFlagNoChecksum); then there is nothing to compare a database
	// checksum with, and the file checksums alone guard the data.
	dbSum := !files[len(files)-1].hdr.NoChecksum()
	total := expectedPages(uint32(len(owners)), pageSize)
	crc := newPageCRC(int(pageSize))

	var (
		mu  sync.Mutex
		sum uint64
	)
	err = forEach(ctx, opt.Limits, opt.Concurrency, len(parts), func(ctx context.Context, i int) error {
		w := worker{out: out, pageSize: int(pageSize), c: c, owners: owners, file: parts[i].file, verify: parts[i].verify, dbSum: dbSum, pageCRC: crc}
		s, err := w.applyPart(ctx, client, files[parts[i].file], parts[i])
		if err != nil {
			return err
		}
		parts[i].crc, parts[i].hashLen = w.crc, w.hashLen
		mu.Lock()
		sum ^= s
		if opt.Progress != nil {
			opt.Progress(Progress{BytesDownloaded: c.bytes.Load(), BytesPlanned: planned, PagesWritten: c.pages.Load(), PagesTotal: total})
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return 0, err
	}
	return sum, verifyFiles(files, parts)
}

// worker applies one part. Pages arrive in offset order, which for
// Litestream's files is page order, so consecutive pages are batched into
// one WriteAt.
type worker struct {
	out      *os.File
	pageSize int
	c        *counters
	owners   []int32
	file     int
	verify   bool
	dbSum    bool // accumulate the database checksum in sum
	pageCRC  *pageCRC
	crc      uint64 // of what the file checksum hashes, for verify parts
	hashLen  int64
	scratch  []byte // decoded page that is hashed but not written

	frameBuf []byte
	run      []byte // pages pgno runStart.. not yet written
	runStart uint32
	sum      uint64
}

// runBuffers recycles the write buffers of finished parts: a 4 GiB
// database has hundreds of parts, and a fresh megabyte for each only
// makes the garbage collector run more often.
var runBuffers = sync.Pool{New: func() any { return new([]byte) }}

func (w *worker) applyPart(ctx context.Context, client litestream.ReplicaClient, f *file, p part) (uint64, error) {
	buf := runBuffers.Get().(*[]byte)
	defer runBuffers.Put(buf)
	if size := max(writeRun, w.pageSize); cap(*buf) < size {
		*buf = make([]byte, 0, size)
	}
	w.run = (*buf)[:0]
	if f.body != nil {
		for _, fr := range p.frames {
			if err := w.page(f, fr, f.body[fr.off:fr.end()]); err != nil {
				return 0, err
			}
		}
		return w.sum, w.flush(f)
	}

	w.c.requests.Add(1)
	rc, err := client.OpenLTXFile(ctx, f.info.Level, f.info.MinTXID, f.info.MaxTXID, p.start, p.end-p.start)
	if err != nil {
		return 0, downloadErr(f.info, err)
	}
	defer rc.Close()
	br := readers.Get().(*bufio.Reader)
	defer func() { br.Reset(nil); readers.Put(br) }()
	br.Reset(&countingReader{r: rc, c: w.c})
	pos := p.start
	for _, fr := range p.frames {
		if gap := fr.off - pos; gap > 0 {
			if _, err := br.Discard(int(gap)); err != nil {
				return 0, readErr(f, fr, err)
			}
		}
		// A frame is decoded where the reader buffered it; only one larger
		// than the buffer is copied out first.
		var b []byte
		peeked := int(fr.size) <= br.Size()
		if peeked {
			if b, err = br.Peek(int(fr.size)); err != nil {
				return 0, readErr(f, fr, err)
			}
		} else {
			if cap(w.frameBuf) < int(fr.size) {
				w.frameBuf = make([]byte, fr.size)
			}
			b = w.frameBuf[:fr.size]
			if _, err := io.ReadFull(br, b); err != nil {
				return 0, readErr(f, fr, err)
			}
		}
		pos = fr.end()
		if err := w.page(f, fr, b); err != nil {
			return 0, err
		}
		if peeked {
			if _, err := br.Discard(int(fr.size)); err != nil {
				return 0, readErr(f, fr, err)
			}
		}
	}
	return w.sum, w.flush(f)
}

// readers recycles the read buffers of finished parts, as runBuffers does
// the write buffers.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

// readErr: a short body means the object is shorter than its index says
// (corrupt); anything else is a failed download.
func readErr(f *file, fr frame, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("ltxrestore: %s: page %d at %d: truncated: %w", f.name(), fr.pgno, fr.off, ErrCorrupt)
	}
	return downloadErr(f.info, err)
}

// page decodes one frame, adds its checksum and queues it for writing.
func (w *worker) page(f *file, fr frame, b []byte) error {
	if !owns(w.owners, w.file, fr.pgno) {
		// Only here to be hashed: a later file holds this page.
		if len(w.scratch) != w.pageSize {
			w.scratch = make([]byte, w.pageSize)
		}
		if err := decodeFrame(b, fr.pgno, w.scratch); err != nil {
			return fmt.Errorf("ltxrestore: %s: page %d: %w: %w", f.name(), fr.pgno, ErrCorrupt, err)
		}
		w.hash(b, fr.pgno, w.scratch, false)
		return nil
	}
	if len(w.run) > 0 && (fr.pgno != w.runStart+uint32(len(w.run)/w.pageSize) || len(w.run)+w.pageSize > cap(w.run)) {
		if err := w.flush(f); err != nil {
			return err
		}
	}
	if len(w.run) == 0 {
		w.runStart = fr.pgno
	}
	data := w.run[len(w.run) : len(w.run)+w.pageSize]
	if err := decodeFrame(b, fr.pgno, data); err != nil {
		return fmt.Errorf("ltxrestore: %s: page %d: %w: %w", f.name(), fr.pgno, ErrCorrupt, err)
	}
	w.run = w.run[:len(w.run)+w.pageSize]
	w.hash(b, fr.pgno, data, w.dbSum)
	return nil
}

// hash adds a decoded page to the checksums that cover it: the part's CRC
// the way ltx's decoder hashes a frame (page header, size prefix in the
// block format, decompressed page), and, with db, the database checksum.
// The page is hashed once for both.
func (w *worker) hash(frame []byte, pgno uint32, data []byte, db bool) {
	if !w.verify && !db {
		return
	}
	c := w.pageCRC.sum(data)
	if db {
		var p [4]byte
		binary.BigEndian.PutUint32(p[:], pgno)
		w.sum ^= w.pageCRC.page.combine(crc64.Update(0, isoTable, p[:]), c) // ltx.ChecksumPage, unflagged
	}
	if w.verify {
		n := ltx.PageHeaderSize
		if binary.BigEndian.Uint16(frame[4:])&ltx.PageHeaderFlagSize != 0 {
			n += 4
		}
		w.crc = w.pageCRC.page.combine(crc64.Update(w.crc, isoTable, frame[:n]), c)
		w.hashLen += int64(n + len(data))
	}
}

func (w *worker) flush(f *file) error {
	if len(w.run) == 0 {
		return nil
	}
	off := int64(w.runStart-1) * int64(w.pageSize)
	if _, err := w.out.WriteAt(w.run, off); err != nil {
		return fmt.Errorf("ltxrestore: write pages from %s: %w: %w", f.name(), ErrWrite, err)
	}
	writeback(w.out, off, int64(len(w.run)))
	w.c.pages.Add(int64(len(w.run) / w.pageSize))
	w.run = w.run[:0]
	return nil
}

// decodeFrame decodes a page frame (header, size, LZ4 block) into data,
// which is exactly one page long.
func decodeFrame(b []byte, pgno uint32, data []byte) error {
	var hdr ltx.PageHeader
	if err := hdr.UnmarshalBinary(b); err != nil {
		return err
	}
	if hdr.Pgno != pgno {
		return fmt.Errorf("frame holds page %d, the index says %d", hdr.Pgno, pgno)
	}
	if hdr.Flags&ltx.PageHeaderFlagSize == 0 {
		// Older LZ4-frame encoding: rare, let the library decode it.
		_, page, err := ltx.DecodePageData(b)
		if err != nil {
			return err
		}
		if len(page) != len(data) {
			return fmt.Errorf("page decodes to %d bytes, expected %d", len(page), len(data))
		}
		copy(data, page)
		return nil
	}
	if len(b) < ltx.PageHeaderSize+4 {
		return fmt.Errorf("frame too short")
	}
	n := int(binary.BigEndian.Uint32(b[ltx.PageHeaderSize:]))
	if ltx.PageHeaderSize+4+n != len(b) {
		return fmt.Errorf("frame size %d does not match the index (%d)", ltx.PageHeaderSize+4+n, len(b))
	}
	m, err := lz4.UncompressBlock(b[ltx.PageHeaderSize+4:], data)
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	if m != len(data) {
		return fmt.Errorf("page decodes to %d bytes, expected %d", m, len(data))
	}
	return nil
}

type countingReader struct {
	r io.Reader
	c *counters
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.c.bytes.Add(int64(n))
	return n, err
}
