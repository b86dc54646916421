package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/superfly/ltx"
	"golang.org/x/sys/unix"
)

// rawDownload is the physical floor: the plan's objects fetched with
// minio-go in parallel 8 MiB ranged parts (16 in flight), written one
// after another into one file with WriteAt and fsynced once, with no
// decoding at all. writeback writes the way pkg/ltxrestore does: the file
// fallocated first, each part's write-back started as it lands.
func rawDownload(ctx context.Context, mc *minio.Client, bucket, prefix string, plan []*ltx.FileInfo, dir string, writeback bool) (int64, int, error) {
	const partSize, workers = 8 << 20, 16
	type job struct {
		key      string
		off, len int64 // in the object
		at       int64 // in the output file
	}
	f, err := os.Create(filepath.Join(dir, "raw.ltx"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var jobs []job
	var total int64
	for _, info := range plan {
		key := fmt.Sprintf("%s/%04x/%s", prefix, info.Level, ltx.FormatFilename(info.MinTXID, info.MaxTXID))
		for off := int64(0); off < info.Size; off += partSize {
			jobs = append(jobs, job{key: key, off: off, len: min(partSize, info.Size-off), at: total + off})
		}
		total += info.Size
	}
	if writeback {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, total); err != nil {
			return 0, 0, err
		}
	}
	ch := make(chan job)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, partSize)
			for j := range ch {
				opts := minio.GetObjectOptions{}
				if err := opts.SetRange(j.off, j.off+j.len-1); err != nil {
					errs <- err
					return
				}
				obj, err := mc.GetObject(ctx, bucket, j.key, opts)
				if err != nil {
					errs <- err
					return
				}
				n, err := io.ReadFull(obj, buf[:j.len])
				obj.Close()
				if err != nil {
					errs <- fmt.Errorf("%s at %d: %w", j.key, j.off, err)
					return
				}
				if _, err := f.WriteAt(buf[:n], j.at); err != nil {
					errs <- err
					return
				}
				if writeback {
					_ = unix.SyncFileRange(int(f.Fd()), j.at, int64(n), unix.SYNC_FILE_RANGE_WRITE)
				}
			}
		}()
	}
	go func() {
		defer close(ch)
		for _, j := range jobs {
			select {
			case ch <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, 0, err
	}
	return total, len(jobs), nil
}
