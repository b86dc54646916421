// Package sysexit names the exit codes both binaries use (BSD sysexits),
// says what each means for each binary (Exits: the table both --help
// print and README.md "Exit codes" is tested against; docs/operations.md
// "Exit codes" says what an operator does for each) and carries a code on
// an error, so that only cmd/*'s run function turns an error into a
// process exit status.
package sysexit

import (
	"errors"
	"fmt"
	"strings"
)

// Exit codes. Each one is a thing an operator must tell apart; what each
// means for each binary is in Exits.
const (
	OK          = 0  // ready: restored, already present, or proven new
	Failure     = 1  // an error nobody classified: a bug to report
	Usage       = 64 // bad configuration, flag or environment variable
	DataErr     = 65 // integrity failure, corrupt replica, lineage conflict, replica missing under "fail"
	Unavailable = 69 // replica unreachable, or the deadline passed
	CantCreate  = 73 // cannot write the output
	TempFail    = 75 // lease held by another writer; WAL kept restarting at start
	NoPerm      = 77 // access denied by the object store
	Config      = 78 // the object store cannot carry the lease (it ignores conditional writes)
)

// Error is an error with the exit code it should end the process with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with code. A nil err stays nil.
func New(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Errorf formats an error that carries code.
func Errorf(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Code returns the exit code err carries: 0 for nil, Failure when no code
// was attached anywhere in its chain.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Failure
}

// OneLine flattens a (joined) error into the single line an operator reads.
func OneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// Name is the short name of a code (Exits), for the one-line error and the
// restore marker.
func Name(code int) string {
	for _, e := range Exits {
		if e.Code == code {
			return e.Name
		}
	}
	return "failure"
}

// severity orders the codes from most to least severe: those that need a
// person before a retry can help come first (data before access, disk and
// configuration), then a bug, then those a retry fixes.
var severity = []int{DataErr, NoPerm, Config, CantCreate, Usage, Failure, Unavailable, TempFail}

// Worse reports whether code a is more severe than b (0 is least severe).
func Worse(a, b int) bool { return rank(a) < rank(b) }

func rank(code int) int {
	for i, c := range severity {
		if c == code {
			return i
		}
	}
	if code == OK {
		return len(severity) + 1
	}
	return len(severity) // unknown codes: after the known ones, before OK
}

// Parts is the failure of several independent parts (the databases of one
// pod): one error each, already naming its part. It carries the most severe
// of their codes, and Lines gives one line per part.
func Parts(errs ...error) error {
	var p parts
	code := OK
	for _, err := range errs {
		if err == nil {
			continue
		}
		p = append(p, err)
		if c := Code(err); Worse(c, code) {
			code = c
		}
	}
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: code, Err: p}
}

type parts []error

func (p parts) Error() string {
	return strings.Join(Lines(p), "\n")
}

func (p parts) Unwrap() []error { return p }

// Split is the parts of a Parts error, or err alone.
func Split(err error) []error {
	var p parts
	if !errors.As(err, &p) {
		return []error{err}
	}
	return p
}

// Lines is err as the lines an operator reads: one per part of a Parts
// error, else OneLine.
func Lines(err error) []string {
	var lines []string
	for _, e := range Split(err) {
		lines = append(lines, OneLine(e))
	}
	return lines
}
