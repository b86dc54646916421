package sysexit

// Binary is one of the two binaries: an exit code may mean something else,
// or nothing, for each.
type Binary string

// The binaries, as cmd/* name them.
const (
	Restore   Binary = "restore"
	Replicate Binary = "replicate"
)

// Exit is one exit code as --help and README.md list it.
type Exit struct {
	Code int
	Name string // short, for the one-line error and the restore marker
	// Restore and Replicate say what the code means when that binary exits
	// with it; "" when it never does.
	Restore, Replicate string
}

// Meaning is what e means when b exits with it; "" when b never does.
func (e Exit) Meaning(b Binary) string {
	switch b {
	case Restore:
		return e.Restore
	case Replicate:
		return e.Replicate
	}
	return ""
}

// Exits is every exit code, in the order the docs list them: the one
// source of the table each binary's --help prints (its own column) and of
// README.md's, which a test holds to it. Written once here, so that the
// binaries, their help and the README cannot drift apart.
var Exits = []Exit{
	{OK, "ok",
		"ready: restored, already present, or proven new",
		"clean stop: the final sync done, the lease released; or stopped before the app created the database (nothing to sync)"},
	{Usage, "usage",
		"a bad flag or variable, or a setting the store's answer proves wrong (scheme, CA, region); the message names it",
		"a bad flag or variable, or a setting the store's answer proves wrong (scheme, CA, region); the message names it"},
	{DataErr, "data",
		"integrity failure, corrupt replica, lineage conflict, bucket missing or replica directory missing (file://), replica missing under RESTORE_IF_REPLICA_MISSING=fail",
		"lineage conflict, stopped while behind the replica, DB_PATH not a SQLite database, bucket missing or replica directory missing (file://)"},
	{Unavailable, "unavailable",
		"replica unreachable, or RESTORE_TIMEOUT passed",
		"stopped while the object store did not answer (nothing replicated), or the final sync did not land within SHUTDOWN_TIMEOUT"},
	{CantCreate, "cantcreate",
		"cannot write the output: the directory of DB_PATH, or --output",
		"cannot write beside DB_PATH: Litestream's local state, the restore marker"},
	{TempFail, "tempfail",
		"another writer still holds the lease after RESTORE_LEASE_WAIT, or stopped while waiting for it; the orchestrator's restart retries",
		"stopped while waiting for the lease, the lease lost to another writer, or the WAL kept restarting while the sidecar started; the orchestrator's restart retries"},
	{NoPerm, "noperm",
		"access denied by the object store",
		"access denied by the object store"},
	{Config, "config",
		"",
		"the object store ignores the conditional writes the lease needs; use a store that enforces them, or LEASE=false and run one writer yourself"},
	{Failure, "failure",
		"an error nobody classified: a bug to report with the line",
		"an error nobody classified: a bug to report with the line"},
}

// For is the codes b can exit with, in Exits' order.
func For(b Binary) []Exit {
	var out []Exit
	for _, e := range Exits {
		if e.Meaning(b) != "" {
			out = append(out, e)
		}
	}
	return out
}
