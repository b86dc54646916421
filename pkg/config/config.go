// Package config is the one configuration contract of both binaries
// (README.md "Configuration"): every setting is an environment
// variable and a flag of the same name (DB_PATH <-> --db-path), a flag wins
// over the environment, which wins over the default; secrets also accept
// NAME_FILE; invalid values fail with exit 64 and an error naming the variable.
//
// The struct tags are the single source for parsing (caarlos0/env), flag
// registration and --help, so the three cannot drift apart.
package config

import (
	"time"
)

// Mode selects which settings a binary uses; --help lists only those.
type Mode uint8

const (
	// Restore is the init container: restore DB_PATH once, then exit.
	Restore Mode = 1 << iota
	// Verify is `restore --verify`: restore into a temp dir and report; DB_PATH is not used.
	Verify
	// Replicate is the sidecar.
	Replicate

	common = Restore | Verify | Replicate
)

// Values accepted by the enumerated settings.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"

	IfMissingNew  = "new"
	IfMissingFail = "fail"

	IntegrityQuick = "quick"
	IntegrityFull  = "full"
	IntegrityNone  = "none"
)

// Config holds every setting. Tags: env (the variable; the flag is its
// lower-case, dashed form), envDefault, help, mode (which binaries use it:
// r = restore, v = restore --verify, s = replicate sidecar; empty = all).
type Config struct {
	DBPath     string `env:"DB_PATH" mode:"rvs" help:"the SQLite database file the app uses, or a comma-separated list of absolute paths, each replicated to REPLICA_URL/<file name>; a relative item after a comma is an error unless the whole value is a path that exists (the file, or the directory with the comma in its name) (required)"`
	ReplicaURL string `env:"REPLICA_URL" help:"where the replica lives: s3://bucket/prefix, or file:///dir for local use, a directory that exists (required)"`

	S3Endpoint   string `env:"S3_ENDPOINT" help:"S3 endpoint for MinIO and other non-AWS stores, e.g. http://minio.default.svc:9000; path-style addressing is used when set"`
	S3Region     string `env:"S3_REGION" envDefault:"us-east-1" help:"S3 region"`
	S3CAFile     string `env:"S3_CA_FILE" help:"PEM file with the CA that signed the S3 endpoint's certificate (added to the system roots)"`
	S3SkipVerify bool   `env:"S3_SKIP_VERIFY" help:"do not verify the S3 endpoint's TLS certificate (testing only)"`
	// AWSCABundle is read only so that a user's AWS_CA_BUNDLE keeps working:
	// Litestream's S3 client fails Init when the AWS SDK sees it
	// (docs/design.md "Litestream traps"), so pkg/engine hides it from the
	// SDK and applies the file the way S3_CA_FILE is applied.
	AWSCABundle string `env:"AWS_CA_BUNDLE" help:"used as S3_CA_FILE when that is not set"`

	AccessKeyID     Secret `env:"AWS_ACCESS_KEY_ID" alias:"LITESTREAM_ACCESS_KEY_ID" help:"S3 access key; also AWS_ACCESS_KEY_ID_FILE, LITESTREAM_ACCESS_KEY_ID(_FILE)"`
	SecretAccessKey Secret `env:"AWS_SECRET_ACCESS_KEY" alias:"LITESTREAM_SECRET_ACCESS_KEY" help:"S3 secret key; also AWS_SECRET_ACCESS_KEY_FILE, LITESTREAM_SECRET_ACCESS_KEY(_FILE)"`

	LogFormat string `env:"LOG_FORMAT" envDefault:"text" help:"log format: text or json"`
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info" help:"log level: debug, info, warn or error"`

	RestoreTimeout          time.Duration `env:"RESTORE_TIMEOUT" envDefault:"50s" mode:"rv" help:"deadline for the whole restore, retries included"`
	RestoreLeaseWait        time.Duration `env:"RESTORE_LEASE_WAIT" envDefault:"90s" mode:"r" help:"how long to wait for a writer that still holds the replica's lease (a pod or allocation being replaced, doing its final sync) before exiting 75 so that the orchestrator retries; cover the grace period plus the 30s lease TTL"`
	RestoreIfReplicaMissing string        `env:"RESTORE_IF_REPLICA_MISSING" envDefault:"new" mode:"r" help:"when the replica is proven empty: new (exit 0, the app creates the database) or fail (exit 65)"`
	RestoreIntegrityCheck   string        `env:"RESTORE_INTEGRITY_CHECK" envDefault:"quick" mode:"rv" help:"integrity check after restore: quick, full or none"`
	RestoreOwner            string        `env:"RESTORE_OWNER" mode:"r" help:"uid:gid to chown the restored files to (the app's user)"`

	MetricsAddr      string        `env:"METRICS_ADDR" envDefault:":9090" mode:"s" help:"address of the HTTP server for /metrics, /healthz, /readyz, /startupz, /status"`
	SyncInterval     time.Duration `env:"SYNC_INTERVAL" envDefault:"1s" mode:"s" help:"how often the WAL is shipped to the replica"`
	SnapshotInterval time.Duration `env:"SNAPSHOT_INTERVAL" envDefault:"24h" mode:"s" help:"how often a full snapshot is written"`
	Retention        time.Duration `env:"RETENTION" envDefault:"72h" mode:"s" help:"how long snapshots are kept"`
	S3StallTimeout   time.Duration `env:"S3_STALL_TIMEOUT" envDefault:"30s" mode:"s" help:"abort a replica request that moves no bytes for this long, and retry it on a fresh connection"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"25s" mode:"s" help:"final-sync budget after SIGTERM; keep it below the orchestrator's grace period"`
	Lease            bool          `env:"LEASE" envDefault:"true" mode:"s" help:"hold a single-writer lease on the replica prefix"`
}

// String is the configuration as one log-safe line: secrets print as
// [redacted] when set.
func (c Config) String() string { return render(c) }
