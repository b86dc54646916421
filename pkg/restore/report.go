package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxrestore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/verify"
)

// Report is what `restore --verify` prints: the human report and, with
// --json, the same fields as one JSON object.
type Report struct {
	ReplicaURL      string             `json:"replica_url"`
	Target          string             `json:"target"`
	TXID            string             `json:"txid,omitempty"` // last transaction restored, as Litestream prints it
	TXIDTime        *time.Time         `json:"txid_time,omitempty"`
	Output          string             `json:"output,omitempty"` // where the copy was kept (--output)
	Database        verify.Description `json:"database"`
	IntegrityCheck  string             `json:"integrity_check"` // quick, full, none
	Integrity       string             `json:"integrity"`       // ok, or the failure
	DownloadedBytes int64              `json:"downloaded_bytes"`
	DownloadSeconds float64            `json:"download_seconds"`
	CheckSeconds    float64            `json:"check_seconds"`
}

// Verify restores the replica into a temporary directory (or output, which
// must not exist, when set), checks it and describes it. It never reads or
// writes DB_PATH and never writes to the replica. A failed integrity check
// still returns the report, with an error that exits 65.
func Verify(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, output string) (*Report, error) {
	return verifyOne(ctx, cfg, logger, target, output, nil)
}

// verifyOne is Verify for one replica; lim, when set, is shared with the
// other databases verified at the same time.
func verifyOne(ctx context.Context, cfg *config.Config, logger *slog.Logger, target Target, output string, lim *ltxrestore.Limits) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.RestoreTimeout)
	defer cancel()
	rep := &Report{ReplicaURL: cfg.Location().String(), Target: target.String(), IntegrityCheck: cfg.RestoreIntegrityCheck}
	logger = logger.With("replica", rep.ReplicaURL)

	out := output
	if out == "" {
		dir, err := os.MkdirTemp("", "restore-verify-")
		if err != nil {
			return nil, sysexit.New(sysexit.CantCreate, fmt.Errorf("temp dir: %w", err))
		}
		defer os.RemoveAll(dir)
		out = filepath.Join(dir, "verify.db")
	} else {
		if err := claimOutput(out); err != nil {
			return nil, err
		}
		rep.Output = out
	}

	src, err := openSource(ctx, cfg, logger, target)
	if err != nil {
		return nil, err
	}
	if src.contents.Empty() {
		msg := fmt.Sprintf("replica %s holds no backup", src.url)
		if h := src.hint(ctx, logger); h != "" {
			msg += "; " + h
		}
		return nil, sysexit.Errorf(sysexit.DataErr, "%s", msg)
	}
	src.limits = lim
	f, ferr := fetchPlanned(ctx, cfg, logger, target, src, out, false)
	if ferr != nil && output != "" {
		removeAll(out) // a kept copy must be a checked one
	}
	if output != "" {
		defer tidyKept(out)
	}
	if f.TXID != 0 {
		rep.TXID = f.TXID.String()
	}
	if !f.Time.IsZero() { // not read when the download failed
		t := f.Time.UTC()
		rep.TXIDTime = &t
	}
	rep.DownloadedBytes, rep.DownloadSeconds, rep.CheckSeconds = f.Downloaded, f.Download.Seconds(), f.Check.Seconds()
	if ferr != nil {
		rep.Integrity = "FAILED: " + ferr.Error()
		return rep, ferr
	}
	rep.Integrity = "ok"
	if cfg.RestoreIntegrityCheck == verify.None {
		rep.Integrity = "not checked"
	}
	if rep.Database, err = verify.Describe(ctx, out); err != nil {
		return rep, sysexit.New(sysexit.DataErr, fmt.Errorf("describe restored database: %w", err))
	}
	return rep, nil
}

// claimOutput proves, before anything is downloaded, that the copy can be
// kept at out (--output): neither it nor a file SQLite would read beside it
// exists (a stale -wal would be read as part of the copy), and a new file
// can be created there. Otherwise the restore's own writes would fail
// later, after the download, in words that name a temp file instead of
// --output. Each refusal names --output and its path, and exits 73.
func claimOutput(out string) error {
	for _, p := range []string{out, out + "-wal", out + "-shm", out + "-journal"} {
		if _, err := os.Lstat(p); err == nil {
			return sysexit.Errorf(sysexit.CantCreate, "--output %s: %s already exists; name a new file", out, p)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return sysexit.Errorf(sysexit.CantCreate, "--output %s: cannot create its directory: %w", out, err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is --output's, named already
		}
		return sysexit.Errorf(sysexit.CantCreate, "--output %s: cannot create the file: %w", out, err)
	}
	f.Close()
	if err := os.Remove(out); err != nil {
		return sysexit.Errorf(sysexit.CantCreate, "--output %s: %w", out, err)
	}
	return nil
}

// tidyKept removes what SQLite left beside the kept copy at out: the check
// and Describe open it read-only, and a read-only connection to a database
// in WAL mode creates an empty -wal and a -shm it cannot remove on close.
// A kept copy is one file. A -wal holding frames (nothing here writes any)
// is left, with its -shm, rather than lose them.
func tidyKept(out string) {
	if st, err := os.Stat(out + "-wal"); err == nil && st.Size() == 0 {
		os.Remove(out + "-wal")
	}
	if _, err := os.Lstat(out + "-wal"); errors.Is(err, fs.ErrNotExist) {
		os.Remove(out + "-shm")
	}
}

// WriteJSON prints r as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// WriteText prints r for a person.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Replica:\t%s\n", r.ReplicaURL)
	fmt.Fprintf(tw, "Target:\t%s\n", r.Target)
	if r.TXID != "" && r.TXIDTime != nil {
		fmt.Fprintf(tw, "Last transaction:\tTXID %s at %s\n", r.TXID, r.TXIDTime.Format(ltxstate.TimeFormat))
	} else if r.TXID != "" {
		fmt.Fprintf(tw, "Last transaction:\tTXID %s\n", r.TXID)
	} else {
		fmt.Fprintf(tw, "Last transaction:\tunknown (v0.3 backup)\n")
	}
	if r.Output != "" {
		fmt.Fprintf(tw, "Kept at:\t%s\n", r.Output)
	}
	d := r.Database
	fmt.Fprintf(tw, "Database size:\t%d bytes (%d pages of %d bytes)\n", d.SizeBytes, d.PageCount, d.PageSize)
	fmt.Fprintf(tw, "Integrity (%s):\t%s\n", r.IntegrityCheck, r.Integrity)
	fmt.Fprintf(tw, "Download:\t%d bytes in %.3fs\n", r.DownloadedBytes, r.DownloadSeconds)
	fmt.Fprintf(tw, "Check:\t%.3fs\n", r.CheckSeconds)
	fmt.Fprintf(tw, "Tables:\t%d\n", len(d.Tables))
	for _, t := range d.Tables {
		fmt.Fprintf(tw, "  %s\t%d rows\n", t.Name, t.Rows)
	}
	if len(d.Internal) > 0 {
		fmt.Fprintf(tw, "SQLite's and Litestream's own:\t%d\n", len(d.Internal))
		for _, t := range d.Internal {
			fmt.Fprintf(tw, "  %s\t%d rows\n", t.Name, t.Rows)
		}
	}
	return tw.Flush()
}
