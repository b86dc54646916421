// Package sysexit names the exit codes both binaries use (BSD sysexits, as
// DESIGN.md's contract lists them) and carries a code on an error, so that
// only cmd/*'s run function turns an error into a process exit status.
package sysexit

import (
	"errors"
	"fmt"
	"strings"
)

// Exit codes. Each one is a thing an operator must tell apart.
const (
	OK          = 0  // ready: restored, already present, or proven new
	Failure     = 1  // an error nobody classified: a bug to report
	Usage       = 64 // bad configuration, flag or environment variable
	DataErr     = 65 // integrity failure, corrupt replica, lineage conflict, replica missing under "fail"
	Unavailable = 69 // replica unreachable, or the deadline passed
	CantCreate  = 73 // cannot write the output
	TempFail    = 75 // lease held by another writer; WAL kept restarting at start
	NoPerm      = 77 // access denied by the object store
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

// Name is the short name of a code, for logs and the restore marker.
func Name(code int) string {
	switch code {
	case OK:
		return "ok"
	case Usage:
		return "usage"
	case DataErr:
		return "data"
	case Unavailable:
		return "unavailable"
	case CantCreate:
		return "cantcreate"
	case TempFail:
		return "tempfail"
	case NoPerm:
		return "noperm"
	default:
		return "failure"
	}
}
