// Package cli is the front both binaries share: flags and environment
// through pkg/config, --help and --version, the logger, and turning an
// error into one line and an exit code. cmd/* stay thin around it.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/telemetry"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/version"
)

// ExitCodes is the table --help prints (README.md "Exit codes"; what to do
// for each: docs/operations.md "Exit codes").
const ExitCodes = `Exit codes:
  0   ready: restored, already present, or proven new (replicate: clean stop)
  64  usage: a bad flag or variable (the message names it)
  65  data: integrity failure, corrupt replica, lineage conflict, replica missing under RESTORE_IF_REPLICA_MISSING=fail
  69  unavailable: replica unreachable, or the deadline passed (replicate: stopped while the store did not answer, or the final sync failed)
  73  cannot write the output (DB_PATH's directory)
  75  temporary: lease held by another writer, or the WAL kept restarting while replicate started
  77  access denied by the object store
  78  replicate: the object store ignores the conditional writes the lease needs (LEASE=false to run without it)
`

// Command is one binary's front.
type Command struct {
	Name    string // restore, replicate
	Summary string // what it does, for --help
	Modes   config.Mode
	FS      *flag.FlagSet
	// Extra is printed in --help after the settings (the binary's own flags).
	Extra string

	loader  *config.Loader
	help    bool
	version bool
}

// New creates a Command whose flag set holds every setting of modes plus
// --help and --version; the caller adds its own flags to c.FS.
func New(name, summary string, modes config.Mode) *Command {
	c := &Command{Name: name, Summary: summary, Modes: modes, FS: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.FS.SetOutput(io.Discard) // we print errors and help ourselves
	c.FS.BoolVar(&c.help, "help", false, "show help")
	c.FS.BoolVar(&c.version, "version", false, "print version")
	c.loader = config.Bind(c.FS, modes)
	return c
}

// Parse parses args. done is true when the caller should exit with code
// right away: --help, --version, or a usage error (already printed).
func (c *Command) Parse(args []string, stdout, stderr io.Writer) (code int, done bool) {
	if err := c.FS.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.Usage(stdout)
			return sysexit.OK, true
		}
		fmt.Fprintf(stderr, "%s: %v (see --help)\n", c.Name, err)
		return sysexit.Usage, true
	}
	if c.help {
		c.Usage(stdout)
		return sysexit.OK, true
	}
	if c.version {
		fmt.Fprintln(stdout, version.String(c.Name))
		return sysexit.OK, true
	}
	if c.FS.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (settings are flags or variables; see --help)\n", c.Name, c.FS.Arg(0))
		return sysexit.Usage, true
	}
	return 0, false
}

// Load builds the Config for mode from the parsed flags and the process
// environment.
func (c *Command) Load(mode config.Mode) (*config.Config, error) {
	return c.loader.Load(os.Environ(), mode)
}

// Start prepares the process for its run once the configuration is
// loaded: it builds the logger the configuration asks for, on stderr, makes
// it Litestream's default too (the library logs through slog.Default), and
// sets Go's memory limit from the container's (limitMemory).
func Start(cfg *config.Config, stderr io.Writer) *slog.Logger {
	l := telemetry.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	slog.SetDefault(l)
	limitMemory(l)
	return l
}

// Usage prints --help.
func (c *Command) Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n\nSettings (environment variable or flag):\n", c.Name, c.Summary)
	config.WriteUsage(w, c.Modes)
	if c.Extra != "" {
		fmt.Fprintf(w, "\n%s", c.Extra)
	}
	fmt.Fprintf(w, "\n  --help      show this help\n  --version   print version, commit and Go version\n\n%s", ExitCodes)
}

// Fail prints err as the one line an operator reads and returns its code.
func (c *Command) Fail(stderr io.Writer, err error) int {
	// One line per failing part (the databases of one pod), each with its
	// own code; the process exits with the most severe.
	for _, part := range sysexit.Split(err) {
		code := sysexit.Code(part)
		fmt.Fprintf(stderr, "%s: error (exit %d, %s): %s\n", c.Name, code, sysexit.Name(code), sysexit.OneLine(part))
	}
	return sysexit.Code(err)
}
