package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/engine"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// Target is the point to restore to: the zero value is the latest position.
type Target struct {
	TXID      ltx.TXID  // restore exactly up to this TXID (--txid)
	Timestamp time.Time // restore the last position at or before this time (--timestamp)
}

// ParseTXID reads --txid: 16 hex digits as Litestream prints a TXID
// (0000000000000003), anything else as a decimal number (3), the way the
// restore marker stores it.
func ParseTXID(s string) (ltx.TXID, error) {
	if len(s) == 16 {
		return ltx.ParseTXID(s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is neither 16 hex digits nor a positive decimal number", s)
	}
	return ltx.TXID(n), nil
}

// source is a replica that preflight found reachable, with what it holds
// and, for LTX backups, the pinned position a restore will reach.
type source struct {
	url      string
	store    *bucket.Store // nil for file:// replicas
	contents bucket.Contents
	plan     []*ltx.FileInfo // LTX restore plan; nil for v0.3 backups
	client   litestream.ReplicaClient
	// listed serves the listings the plan was made from: the lineage
	// proof of a copy already present (diverged) reads the same tip
	// without listing again. Nil until planned; a replan lists afresh.
	listed *listedClient
	// Position of the restore plan's last file; zero for v0.3 backups,
	// whose positions are not TXIDs.
	txid ltx.TXID
	size int64 // bytes of all LTX files in the plan
	// limits, when set, is shared with other databases restoring at once.
	limits *ltxrestore.Limits
	// handover: this is the history a sidecar moved aside, the replica's
	// latest backup until its new history's first snapshot (followHandover).
	handover bool
	// tipL0 names the level-0 file a database already present expects at
	// the replica's tip; its trailer is read beside the preflight.
	tipL0   string
	trailer *trailerRead
}

// openSource runs preflight (reachable, authorised, bucket, contents) and,
// when the prefix holds LTX files, computes the restore plan for target.
// When the latest backup is a history a sidecar moved aside, the source
// is that history (followHandover), and a caller with a database at
// DB_PATH decides about it before restoring over it (handoverKept).
func openSource(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target) (*source, error) {
	return openSourceAt(ctx, cfg, logger, target, &source{url: cfg.Location().String()})
}

func openSourceAt(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, src *source) (*source, error) {
	loc := cfg.Location()
	// The replica client's set-up (the AWS SDK's configuration: CPU, no
	// request, ~15 ms) runs while the preflight waits for the store.
	client := engine.NewClient(cfg, logger)
	initialised := make(chan error, 1)
	go func() { initialised <- client.Init(ctx) }()
	var err error
	if loc.Scheme == "file" {
		src.contents, err = bucket.LocalContents(loc.Dir)
	} else {
		if src.store, err = bucket.New(cfg, bucket.OneAttempt); err != nil { // Preflight retries
			return nil, err
		}
		if src.tipL0 != "" {
			src.trailer = readTrailer(ctx, src.store, src.tipL0)
		}
		src.contents, err = src.store.Preflight(ctx, logger)
	}
	if err != nil {
		return nil, err
	}
	if h := src.contents.Handover(); h != "" && !src.handover {
		return followHandover(ctx, cfg, logger, target, h)
	}
	if to := src.contents.Moving; to != "" {
		// What the levels hold is a remnant of a history half-deleted after
		// its copy: restoring it would return an older position as the
		// latest (bucket.MoveLevels).
		return nil, sysexit.Errorf(sysexit.DataErr, "replica %s is part-way through a move of its history to %s (the sidecar stopped while starting a new history): what is left in the prefix is not the latest backup; start the sidecar on the existing database (it finishes the move), or restore the moved history with `restore --verify --output FILE --replica-url` pointed there", src.url, to)
	}
	if src.contents.Empty() && src.contents.KeptHistory != "" {
		// Not proven empty: the sidecar moved the old history aside to start
		// a new one and stopped before its first snapshot landed.
		return nil, sysexit.Errorf(sysexit.DataErr, "replica %s holds no live backup but an earlier history at %s (the sidecar stopped while starting a new history); restore it with `restore --verify --output FILE --replica-url` pointed there, or start the sidecar on the existing database", src.url, src.contents.KeptHistory)
	}
	if src.contents.Empty() {
		return src, nil
	}
	src.client = client
	if err := <-initialised; err != nil {
		return nil, classifyRestore(ctx, fmt.Errorf("replica client: %w", err), sysexit.Unavailable)
	}
	if !src.contents.LTX {
		if target.TXID != 0 {
			return nil, sysexit.Errorf(sysexit.Usage, "--txid needs v0.5 (LTX) backups; %s holds only v0.3 generations: use --timestamp", src.url)
		}
		return src, nil
	}
	// A point in time needs each file's own timestamp (object metadata),
	// which only Litestream's listing reads.
	metadata := !target.Timestamp.IsZero()
	var listed *listedClient
	if src.contents.Levels != nil && !metadata {
		listed = listedFrom(src.client, src.contents.Levels)
	} else {
		listed = listAllLevels(ctx, src.client, metadata)
	}
	listed.store, listed.trailer = src.store, src.trailer
	plan, err := litestream.CalcRestorePlan(ctx, listed, target.TXID, target.planBefore(), logger)
	if err != nil {
		if errors.Is(err, litestream.ErrTxNotAvailable) && (target.TXID != 0 || !target.Timestamp.IsZero()) {
			return nil, sysexit.New(sysexit.DataErr, fmt.Errorf("replica %s has no backup for the requested point in time (%s)%s: %w", src.url, target, reachable(ctx, src.client), err))
		}
		return nil, classifyRestore(ctx, fmt.Errorf("restore plan from %s: %w", src.url, err), sysexit.DataErr)
	}
	src.plan, src.listed = plan, listed
	last := plan[len(plan)-1]
	src.txid = last.MaxTXID
	for _, fi := range plan {
		src.size += fi.Size
	}
	return src, nil
}

// listings is the client to list the replica's levels with: the listings
// the plan was made from, when there is a plan. They were taken after the
// lease read, as every listing must be, and a file gone since is as gone
// from a fresh listing.
func (s *source) listings() litestream.ReplicaClient {
	if s.listed != nil {
		return s.listed
	}
	return s.client
}

// reachable says what a point-in-time restore of client can reach, for a
// target outside it ("" when the replica cannot say). Its start is the
// oldest snapshot's own stamp, when it was taken: no earlier --timestamp
// restores from it. Its end is the newest TXID's time.
func reachable(ctx context.Context, client litestream.ReplicaClient) string {
	oldest, newest, err := ltxstate.Span(ctx, client)
	if err != nil || oldest == nil || newest == nil {
		return ""
	}
	from, err := ltxstate.HeaderTime(ctx, client, oldest)
	if err != nil {
		return ""
	}
	to, err := ltxstate.TXIDTime(ctx, client, newest)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("; it can restore from %s (its oldest snapshot, of txid %s) to %s (txid %s)",
		from.Format(ltxstate.TimeFormat), oldest.MaxTXID, to.Format(ltxstate.TimeFormat), newest.MaxTXID)
}

// planBefore is the time Litestream's plan is given for --timestamp: it
// keeps the files stamped strictly before it, and --timestamp means at or
// before. Stamps are whole milliseconds (ltxstate.TimeFormat), so the
// bound is the next millisecond.
func (t Target) planBefore() time.Time {
	if t.Timestamp.IsZero() {
		return t.Timestamp
	}
	return t.Timestamp.Truncate(time.Millisecond).Add(time.Millisecond)
}

func (t Target) String() string {
	switch {
	case t.TXID != 0:
		return "txid " + t.TXID.String()
	case !t.Timestamp.IsZero():
		return "timestamp " + t.Timestamp.UTC().Format(time.RFC3339Nano) // as exact as it was given
	default:
		return "latest"
	}
}

// IsLatest reports whether t asks for the newest position.
func (t Target) IsLatest() bool { return t.TXID == 0 && t.Timestamp.IsZero() }

// hint returns the "did you mean" of an empty prefix: sibling prefixes in
// the same bucket that hold Litestream backups. It is best effort and
// bounded in time: a failure to list is logged, never fatal.
func (s *source) hint(ctx context.Context, logger *slog.Logger) string {
	if s.store == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sib, err := s.store.Siblings(ctx, 5)
	if err != nil {
		logger.Debug("could not list sibling prefixes", "error", err.Error())
		return ""
	}
	if len(sib) == 0 {
		return ""
	}
	return "did you mean " + strings.Join(sib, " or ") + "?"
}

// followHandover opens the history a sidecar moved aside as it started a
// new one, after a WAL discontinuity, and stopped before the new history's
// first snapshot (bucket.Contents.Handover). Its database went on from that
// history, so that history is the replica's latest backup: exactly what a
// restore would have returned had the sidecar stopped before the move.
// Refusing instead would hold every new copy of the app until an operator
// restored it by hand. The marker still names REPLICA_URL, where the
// sidecar on the restored copy starts the new history itself.
func followHandover(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, history string) (*source, error) {
	logger.Warn("the replica's latest backup is the history a sidecar moved aside as it started a new one (it stopped before the new history's first snapshot): reading it there", "history", history)
	hc := *cfg
	hc.ReplicaURL = history
	if cfg.Location().Scheme == "file" {
		hc.ReplicaURL = "file://" + history
	}
	return openSourceAt(ctx, &hc, logger, target, &source{url: history, handover: true})
}
