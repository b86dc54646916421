package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/bucket"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// The waits of the start sequence (the lease, the database, the lineage
// check) and what a stop means in each: every wait says why it waits
// (waitOn), and a signal ends it at once (stopCtx), with the exit code of
// what the sidecar was waiting for (stopCode).

// waitCause is what the sidecar is waiting for as a stop finds it.
type waitCause int

const (
	// waitApp: only for the app to create the database; the store answers.
	waitApp waitCause = iota
	// waitStore: the object store does not answer, or its answer cannot
	// be read (the lease, the replica's listing).
	waitStore
	// waitHolder: another writer holds the single-writer lease.
	waitHolder
	// waitClock: this node's clock is off the store's beyond lease.MaxSkew.
	waitClock
	// waitTurn: the lease of the database before this one in DB_PATH.
	waitTurn
)

// stopCode is the exit code of a stop while waiting for c, before
// anything was replicated (docs/design.md "Stopped while waiting"):
//   - the app: 0. No database exists, so there is nothing to sync and
//     nothing the app committed is lost; the stop is as clean as one after
//     a final sync. The orchestrator has nothing to retry.
//   - the store: 69, the code restore gives an unreachable store. An exit
//     0 would claim a final sync that never ran, against a store that
//     could not have taken one.
//   - another writer, this node's clock, an earlier database's lease: 75,
//     temporary: it ends when the other writer stops or the clock is
//     fixed, and the orchestrator's restart retries.
func stopCode(c waitCause) int {
	switch c {
	case waitApp:
		return sysexit.OK
	case waitStore:
		return sysexit.Unavailable
	default:
		return sysexit.TempFail
	}
}

// why is what a wait for c says after the state's own words.
func (c waitCause) why() string {
	switch c {
	case waitApp:
		return "" // the state says it all
	case waitStore:
		return "the object store does not answer"
	case waitHolder:
		return "another writer holds it; waiting for it to stop (its final sync) and release it"
	case waitClock:
		return "this node's clock is off the object store's beyond the lease's margin"
	default:
		return "leases are taken in DB_PATH's order, and the one of the database before this one is not held yet"
	}
}

// waitReport is how often a wait says again that it still waits.
const waitReport = 10 * time.Second

// errNoAnswerYet: a stop before the store's first answer.
var errNoAnswerYet = errors.New("no answer from the object store yet")

// signalled is the cause of stopCtx's end when a signal ended it.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string { return "signal " + s.sig.String() }

// watchSignals makes r.stopCtx end at the first signal, so that every wait
// ends at once (and its requests, request); the returned func ends the
// watch.
func (r *runner) watchSignals(ctx context.Context) (end func()) {
	stopCtx, stop := context.WithCancelCause(ctx)
	r.stopCtx = stopCtx
	go func() {
		select {
		case sig := <-r.signals:
			stop(signalled{sig})
		case <-stopCtx.Done():
		}
	}()
	return func() { stop(nil) }
}

// signal is the signal that ended stopCtx, nil when none did.
func (r *runner) signal() os.Signal {
	var s signalled
	if errors.As(context.Cause(r.stopCtx), &s) {
		return s.sig
	}
	return nil
}

// waitOn records that the sidecar waits, in the state what (the state's
// words: "waiting for the single-writer lease"), for c, and why (err, nil
// for nothing more to tell): a WARN line when the cause changes, naming the
// store's endpoint, the path, or the holder in err; an INFO line every
// waitReport while it lasts, as restore does for its lease wait.
func (r *runner) waitOn(what string, c waitCause, err error, attrs ...any) {
	now := time.Now()
	w := &r.waiting
	if w.since.IsZero() {
		w.since = now
	}
	changed := w.what != what || w.cause != c || w.err == nil && err != nil
	w.what, w.cause, w.err = what, c, err
	attrs = append(attrs, "replica", r.st.url)
	switch c {
	case waitStore:
		attrs = append(attrs, "endpoint", r.endpoint())
	case waitApp:
		attrs = append(attrs, "path", r.cfg.DBPath)
	}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	msg, level := what, slog.LevelWarn
	if why := c.why(); why != "" {
		msg += ": " + why
	}
	if c == waitClock {
		// The name operators and alerts know this line by.
		msg, level = "clock skew: not taking the single-writer lease", slog.LevelError
	}
	if c == waitApp {
		level = slog.LevelInfo // the usual first boot: nothing is wrong
	}
	switch {
	case changed:
		w.logged = now
		r.logger.Log(context.Background(), level, msg, attrs...)
	case now.Sub(w.logged) >= waitReport:
		w.logged = now
		r.logger.Info("still "+msg, append(attrs, "waited", now.Sub(w.since).Round(time.Second).String())...)
	}
}

// stopGrace is how long a request of the start, in flight at a signal or
// made after it, may still take to answer while DB_PATH exists: on a store
// that answers, the start then goes on and shutdown's final sync ships
// what the app committed, as a stop just after the start would. A wait
// for a retry ends at once, and so does a request when there is no
// database: there is nothing to ship.
const stopGrace = 2 * time.Second

// request is the context of one request of the start's waits: ctx, ended
// after stopGrace (at once without a database) once a signal came.
func (r *runner) request(ctx context.Context) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-r.stopCtx.Done():
		case <-rctx.Done():
			return
		}
		if _, err := os.Stat(r.cfg.DBPath); err == nil {
			t := time.NewTimer(stopGrace)
			defer t.Stop()
			select {
			case <-t.C:
			case <-rctx.Done():
				return
			}
		}
		cancel()
	}()
	return rctx, cancel
}

// cutShort reports whether the stop ended a request made under rctx: its
// failure then says nothing of the store.
func (r *runner) cutShort(rctx context.Context) bool {
	return rctx.Err() != nil && r.stopCtx.Err() != nil
}

// noAnswerAfter is how long a request made while waiting may go without
// an answer before the wait says so: minio-go and Litestream's S3 client
// retry a refused or unanswered request for seconds before it fails.
const noAnswerAfter = 2 * time.Second

// asking is called before a request made in the wait what; the returned
// func after it. Until the wait has logged why the store fails, a request
// unanswered for noAnswerAfter says that it waits for the store, naming it.
func (r *runner) asking(what string) (answered func()) {
	if r.waiting.cause == waitStore && r.waiting.err != nil {
		return func() {} // the store's failure is said already
	}
	endpoint, url := r.endpoint(), r.st.url
	t := time.AfterFunc(noAnswerAfter, func() {
		r.logger.Warn(what+": no answer from the object store yet", "replica", url, "endpoint", endpoint, "after", noAnswerAfter.String())
	})
	return func() { t.Stop() }
}

// waiting is what the current wait is for, and since when.
type waiting struct {
	what          string
	cause         waitCause
	err           error // the last reason, nil when there is none to tell
	since, logged time.Time
}

// answered records that the store answered: a stop from now on, before
// anything else is in the way, is a stop while waiting for the app.
func (r *runner) answered() {
	r.waiting = waiting{what: r.waiting.what, cause: waitApp}
}

// stopped is the error that ends a wait in what (the state's words) on a
// stop: errStopped (exit 0) while waiting only for the app, else an error
// carrying stopCode of what r.waiting records.
func (r *runner) stopped(what string) error {
	how := "stopped"
	if sig := r.signal(); sig != nil {
		r.logger.Info("signal received while "+what, "signal", sig.String())
		how = fmt.Sprintf("stopped (%s)", sig)
	}
	c, why := r.waiting.cause, r.waiting.err
	code := stopCode(c)
	switch {
	case code == sysexit.OK:
		return errStopped
	case c == waitStore && why == nil:
		why = errNoAnswerYet
	case why == nil:
		why = errors.New(c.why())
	}
	if c == waitStore {
		return sysexit.New(code, fmt.Errorf("%s while %s: the object store at %s does not answer (last: %w): nothing was replicated", how, what, r.endpoint(), why))
	}
	return sysexit.New(code, fmt.Errorf("%s while %s on %s: %w: nothing was replicated", how, what, r.st.url, why))
}

// endpoint names the store for log and error lines: the S3 endpoint, or
// the directory of a file:// replica. acquireLease records the lease's
// Store's; without a lease it is worked out here once.
func (r *runner) endpoint() string {
	if r.endpointName != "" {
		return r.endpointName
	}
	r.endpointName = r.cfg.S3Endpoint
	if r.cfg.Location().Scheme != "s3" {
		r.endpointName = r.st.url
	} else if bs, err := bucket.New(r.cfg); err == nil {
		r.endpointName = bs.Endpoint()
	}
	return r.endpointName
}
