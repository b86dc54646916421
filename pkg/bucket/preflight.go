package bucket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// Contents is what a replica prefix holds.
type Contents struct {
	LTX bool // v0.5 LTX files
	V3  bool // v0.3 generations
	// KeptHistory is the newest <prefix>/history/<stamp> the sidecar moved an
	// earlier history to (a new history, pkg/replicate), "" when none. A prefix
	// with a history but no live LTX is not empty: the sidecar stopped
	// between moving the history and uploading the new snapshot. Read, with
	// Previous, only when the levels hold no backup or Moving is set.
	KeptHistory string
	// Moving is where a move of the history that began and did not finish
	// was taking it (Store.MoveLevels), as s3://bucket/key, "" when none:
	// the level directories then hold a remnant, not a backup.
	Moving string
	// Previous is the history the previous object names
	// (ltxstate.HistoryPrevious), in KeptHistory's form, "" when none.
	Previous string
	// Levels are the LTX files of levels 0 to 9 (index: level), as
	// Litestream's listing of each level reads them, from the preflight's
	// own listing; nil when that listing did not reach them all in one
	// page, or there was none (file://).
	Levels [][]*ltx.FileInfo
}

// Empty reports whether the prefix holds no backup in any format.
func (c Contents) Empty() bool { return !c.LTX && !c.V3 }

// Handover returns where the replica's latest backup is when a sidecar
// moved the history its database goes on from aside and stopped before
// the new history's first snapshot (the previous object names it, and the
// levels hold nothing, or a remnant of that very move); "" otherwise.
// A previous object beside live levels is stale: the levels win.
func (c Contents) Handover() string {
	if c.Previous == "" || (c.Moving != c.Previous && (!c.Empty() || c.KeptHistory != c.Previous)) {
		return ""
	}
	return c.Previous
}

// Backoff bounds for Preflight's retries.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Preflight checks reachability, authorisation and the bucket, and lists
// the prefix, retrying transient failures with exponential backoff until
// ctx ends. Denied and missing-bucket answers are final and not retried.
func (s *Store) Preflight(ctx context.Context, logger *slog.Logger) (Contents, error) {
	backoff := minBackoff
	var last error // the last failure that was not the deadline: its cause
	for attempt := 1; ; attempt++ {
		c, err := s.probe(ctx)
		if err == nil || !Retryable(err) {
			return c, err
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		logger.Warn("replica not reachable yet, retrying", "attempt", attempt, "error", err.Error(), "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return Contents{}, sysexit.New(sysexit.Unavailable, fmt.Errorf("no answer from S3 endpoint %s within the deadline (%d attempts); last: %w", s.Endpoint(), attempt, last))
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (s *Store) probe(ctx context.Context) (Contents, error) {
	// The four requests are independent: at once, they cost one round
	// trip to the store instead of four (20-50 ms each to a remote S3),
	// on every pod start. The bucket's answer is read first, so that a
	// missing or forbidden bucket is reported as such whatever the
	// listings in it said.
	var (
		c      Contents
		exists bool
	)
	errs := all(
		func() (err error) { exists, err = s.client.BucketExists(ctx, s.Bucket); return err },
		func() (err error) { c.LTX, c.Levels, err = s.listLevels(ctx); return err },
		func() (err error) {
			c.V3, err = s.any(ctx, path.Join(s.Prefix, ltxstate.GenerationsDir)+"/")
			return err
		},
		func() (err error) {
			if c.Moving, err = s.PendingMove(ctx); c.Moving != "" {
				c.Moving = "s3://" + s.Bucket + "/" + c.Moving
			}
			return err
		},
	)
	switch {
	case errs[0] != nil:
		return Contents{}, s.classifyCtx(ctx, errs[0])
	case !exists:
		return Contents{}, final(sysexit.DataErr, fmt.Errorf("%w: %q (check the bucket in REPLICA_URL)", ErrNoBucket, s.Bucket))
	}
	if c.Moving != "" || c.Empty() {
		// What a new history left behind matters only when the levels
		// hold no backup, or a remnant: a second round trip then, none on
		// the usual start (each request costs the store too).
		errs = append(errs, all(
			func() (err error) { c.KeptHistory, err = s.newestHistory(ctx); return err },
			func() (err error) { c.Previous, err = s.Previous(ctx); return err },
		)...)
	}
	for _, err := range errs[1:] {
		if errors.Is(err, ErrBadMove) {
			return Contents{}, sysexit.New(sysexit.DataErr, err)
		} else if err != nil {
			return Contents{}, s.classifyCtx(ctx, err)
		}
	}
	return c, nil
}

// all runs the requests at once and returns their errors, in order.
func all(requests ...func() error) []error {
	errs := make([]error, len(requests))
	var wg sync.WaitGroup
	for i, do := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = do()
		}()
	}
	wg.Wait()
	return errs
}

// newestHistory returns the newest history/<stamp> prefix, "" when none.
// Stamps are UTC times that sort as strings.
func (s *Store) newestHistory(ctx context.Context) (string, error) {
	base := path.Join(s.Prefix, ltxstate.HistoryDir) + "/"
	newest := ""
	for obj := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: base}) {
		if obj.Err != nil {
			return "", obj.Err
		}
		if p := strings.TrimSuffix(obj.Key, "/"); p > newest {
			newest = p
		}
	}
	if newest == "" {
		return "", nil
	}
	return "s3://" + s.Bucket + "/" + newest, nil
}

// classifyCtx classifies err, naming the deadline when it is why we failed.
func (s *Store) classifyCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("%w: %s", ErrUnreachable, sysexit.OneLine(err)))
	}
	return Classify(err)
}

// any reports whether at least one object lies under prefix.
func (s *Store) any(ctx context.Context, prefix string) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	obj, ok := <-s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: 1})
	if !ok {
		return false, nil
	}
	return obj.Err == nil, obj.Err
}

// maxSiblingScan bounds how many keys Siblings reads: it is a hint, not an
// inventory, and must not slow an init container on a huge bucket.
const maxSiblingScan = 10000

// Siblings lists up to limit prefixes in the bucket, other than our own,
// that hold Litestream backups: the "did you mean" of a wrong prefix.
func (s *Store) Siblings(ctx context.Context, limit int) ([]string, error) {
	seen := map[string]bool{}
	n := 0
	for obj := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return nil, Classify(obj.Err)
		}
		if n++; n > maxSiblingScan {
			break
		}
		if p, ok := backupPrefix(obj.Key); ok && p != s.Prefix {
			seen[p] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, "s3://"+path.Join(s.Bucket, p))
	}
	sort.Strings(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// backupPrefix returns the replica prefix of a key inside a Litestream
// layout: "apps/a/0009/<min>-<max>.ltx" -> "apps/a".
func backupPrefix(key string) (string, bool) {
	for _, re := range []*regexp.Regexp{ltxstate.LTXKey, ltxstate.V3Key} {
		if m := re.FindStringSubmatch(key); m != nil {
			return m[1], true
		}
	}
	return "", false
}

// ErrNoDir is ErrNoBucket for a file:// replica: the directory REPLICA_URL
// names does not exist. errors.Is matches it with ErrNoBucket too.
var ErrNoDir error = noDir{}

type noDir struct{}

func (noDir) Error() string        { return "replica directory does not exist" }
func (noDir) Is(target error) bool { return target == ErrNoBucket }

// CheckLocalDir is LocalDir for REPLICA_URL when it is a file:// one (nil
// for s3://): once per process, for every database under it, in both
// modes.
func CheckLocalDir(cfg *config.Config) error {
	if loc := cfg.Location(); loc.Scheme == "file" {
		return LocalDir(loc.Dir)
	}
	return nil
}

// LocalDir is the bucket check of a file:// replica: the directory
// REPLICA_URL names must exist, as the bucket of an s3:// one must. A
// missing directory is a typo or a volume that is not mounted far more
// often than a replica nobody wrote to yet; read as empty, it proved the
// replica new and started the app on an empty database while the backup
// lay elsewhere. With several databases it is REPLICA_URL's directory:
// each database's sub-directory is its prefix, created by its first sync.
func LocalDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return sysexit.New(sysexit.DataErr, fmt.Errorf("%w: %q (check the directory in REPLICA_URL)", ErrNoDir, dir))
	case errors.Is(err, os.ErrPermission):
		return sysexit.New(sysexit.NoPerm, fmt.Errorf("%w: %v", ErrDenied, err))
	case err != nil:
		return sysexit.New(sysexit.Unavailable, fmt.Errorf("%w: %v", ErrUnreachable, err))
	case !fi.IsDir():
		return sysexit.New(sysexit.DataErr, fmt.Errorf("%w: %q is a file (check the directory in REPLICA_URL)", ErrNoDir, dir))
	}
	return nil
}

// LocalContents is Preflight for a file:// replica directory. A missing
// directory is an empty replica (the caller checked REPLICA_URL's own
// with LocalDir, as the bucket of an s3:// one); any other error is one we
// cannot prove empty, so it is reported.
func LocalContents(dir string) (Contents, error) {
	var c Contents
	for _, d := range []struct {
		name string
		set  *bool
	}{{ltxstate.FileLTXDir, &c.LTX}, {ltxstate.GenerationsDir, &c.V3}} {
		entries, err := os.ReadDir(filepath.Join(dir, d.name))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case errors.Is(err, os.ErrPermission):
			return Contents{}, sysexit.New(sysexit.NoPerm, fmt.Errorf("%w: %v", ErrDenied, err))
		case err != nil:
			return Contents{}, sysexit.New(sysexit.Unavailable, fmt.Errorf("%w: %v", ErrUnreachable, err))
		default:
			*d.set = len(entries) > 0
		}
	}
	if entries, err := os.ReadDir(filepath.Join(dir, ltxstate.HistoryDir)); err == nil && len(entries) > 0 {
		c.KeptHistory = filepath.Join(dir, ltxstate.HistoryDir, entries[len(entries)-1].Name())
	}
	var err error
	if c.Previous, err = LocalPrevious(dir); err != nil {
		return Contents{}, sysexit.New(sysexit.DataErr, err)
	}
	return c, nil
}
