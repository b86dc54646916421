package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/cli"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/restore"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// extra is the --help text of restore's own flags (not settings: they have
// no variable, because they change what the command does).
const extra = `Command flags (no variable):
  --verify            restore into a temp dir, check it, print a report; never touches DB_PATH or the
                      bucket, and needs no DB_PATH (a list in it is read for the names of several
                      databases: one report each, one after another, in DB_PATH's order)
  --json              with --verify: print the report as one JSON object; with several databases in
                      DB_PATH, one JSON array of the reports made, in DB_PATH's order
  --output PATH       with --verify: keep the restored copy at PATH (must not exist); with several
                      databases in DB_PATH, PATH is a new directory that gets one file each
  --timestamp TIME    restore the last position at or before TIME (RFC 3339, e.g. 2026-11-22T10:00:00Z)
  --txid TXID         restore exactly up to TXID (16 hex digits as Litestream prints it, or decimal);
                      a TXID counts the sidecar's syncs (LTX files), not SQLite transactions;
                      one database only (with several, --timestamp applies to each)
`

type flags struct {
	verify, json     bool
	output, ts, txid string
}

func bindFlags(c *cli.Command) *flags {
	f := &flags{}
	c.FS.BoolVar(&f.verify, "verify", false, "")
	c.FS.BoolVar(&f.json, "json", false, "")
	c.FS.StringVar(&f.output, "output", "", "")
	c.FS.StringVar(&f.ts, "timestamp", "", "")
	c.FS.StringVar(&f.txid, "txid", "", "")
	c.Extra = extra
	return f
}

// target checks the command flags and returns the point to restore to.
func (f *flags) target() (restore.Target, error) {
	var t restore.Target
	if f.ts != "" && f.txid != "" {
		return t, sysexit.Errorf(sysexit.Usage, "--timestamp and --txid exclude each other")
	}
	if !f.verify && (f.json || f.output != "") {
		return t, sysexit.Errorf(sysexit.Usage, "--json and --output need --verify")
	}
	if f.ts != "" {
		ts, err := time.Parse(time.RFC3339, f.ts)
		if err != nil {
			return t, sysexit.Errorf(sysexit.Usage, "--timestamp %q is not RFC 3339, e.g. 2026-11-22T10:00:00Z", f.ts)
		}
		t.Timestamp = ts
	}
	if f.txid != "" {
		id, err := restore.ParseTXID(f.txid)
		if err != nil {
			return t, sysexit.Errorf(sysexit.Usage, "--txid: %v", err)
		}
		t.TXID = id
	}
	return t, nil
}

// runVerify is `restore --verify`: the report goes to stdout, logs and the
// one-line error to stderr.
func runVerify(ctx context.Context, c *cli.Command, f *flags, target restore.Target, stdout, stderr io.Writer) int {
	cfg, err := c.Load(config.Verify)
	if err != nil {
		return c.Fail(stderr, err)
	}
	reps, err := restore.VerifyAll(ctx, cfg, cli.Start(cfg, stderr), target, f.output)
	if werr := printReports(stdout, reps, f.json, cfg.Several()); werr != nil && err == nil {
		err = fmt.Errorf("print report: %w", werr)
	}
	if err != nil {
		return c.Fail(stderr, err)
	}
	return 0
}

// printReports prints one report as text or one JSON object; several (the
// databases DB_PATH lists) as texts one after another, or as one JSON
// array, even when only one of them was made: a script reading the output
// of a list gets the same shape whatever failed. --help and README.md
// "Restore from a laptop" say so.
func printReports(w io.Writer, reps []*restore.Report, asJSON, several bool) error {
	if asJSON && several {
		return json.NewEncoder(w).Encode(reps)
	}
	for i, rep := range reps {
		var err error
		switch {
		case asJSON:
			err = rep.WriteJSON(w)
		case i > 0:
			if _, err = io.WriteString(w, "\n"); err == nil {
				err = rep.WriteText(w)
			}
		default:
			err = rep.WriteText(w)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
