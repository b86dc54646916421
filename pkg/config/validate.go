package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// Location is a parsed REPLICA_URL.
type Location struct {
	Scheme string // "s3" or "file"
	Bucket string // s3 only
	Prefix string // s3: key prefix without leading or trailing slash
	Dir    string // file: absolute directory
}

// String is the canonical URL, the one logged so a wrong prefix is visible.
func (l Location) String() string {
	if l.Scheme == "file" {
		return (&url.URL{Scheme: "file", Path: l.Dir}).String()
	}
	return (&url.URL{Scheme: "s3", Host: l.Bucket, Path: "/" + l.Prefix}).String()
}

// bucketName is S3's rule for bucket names (3-63 chars, lower case,
// digits, dots and dashes, starting and ending with a letter or digit).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseReplicaURL parses REPLICA_URL. Its errors quote no part of the URL
// that could hold a credential.
func ParseReplicaURL(raw string) (Location, error) {
	if raw == "" {
		return Location{}, errors.New("is required (s3://bucket/prefix or file:///dir)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, errors.New("is not a URL; want s3://bucket/prefix or file:///dir")
	}
	if u.User != nil {
		return Location{}, errors.New("must not hold credentials; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE forms)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Location{}, errors.New("must not have a query or fragment; settings such as the endpoint are variables (S3_ENDPOINT)")
	}
	if strings.ContainsFunc(u.Path, unicode.IsControl) {
		return Location{}, errors.New("has control characters in its path")
	}
	switch u.Scheme {
	case "s3":
		if !bucketName.MatchString(u.Host) {
			return Location{}, fmt.Errorf("has bucket %q, which is not a valid S3 bucket name", short(u.Host))
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix == "" {
			// Litestream's S3 client would write keys starting with "/".
			return Location{}, fmt.Errorf("needs a prefix after the bucket, e.g. s3://%s/myapp", short(u.Host))
		}
		if path.Clean(prefix) != prefix {
			return Location{}, fmt.Errorf("has prefix %q with empty, . or .. segments", short(prefix))
		}
		return Location{Scheme: "s3", Bucket: u.Host, Prefix: prefix}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("file URL has host %q; want file:///absolute/dir", short(u.Host))
		}
		dir := path.Clean(u.Path)
		if !path.IsAbs(u.Path) || dir == "/" {
			return Location{}, errors.New("file URL needs an absolute directory other than /, e.g. file:///var/backups/app")
		}
		return Location{Scheme: "file", Dir: dir}, nil
	case "":
		return Location{}, errors.New("has no scheme; want s3://bucket/prefix or file:///dir")
	default:
		return Location{}, fmt.Errorf("has unsupported scheme %q; want s3 or file", short(u.Scheme))
	}
}

// Location returns the parsed REPLICA_URL of a validated Config.
func (c *Config) Location() Location {
	loc, _ := ParseReplicaURL(c.ReplicaURL)
	return loc
}

// Owner returns RESTORE_OWNER as numbers; ok is false when unset.
func (c *Config) Owner() (uid, gid int, ok bool) {
	if c.RestoreOwner == "" {
		return 0, 0, false
	}
	u, g, _ := strings.Cut(c.RestoreOwner, ":")
	uid, _ = strconv.Atoi(u)
	gid, _ = strconv.Atoi(g)
	return uid, gid, true
}

// Validate checks every setting mode uses and returns all problems at
// once, each naming its variable, with exit code 64.
func (c *Config) Validate(mode Mode) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, &Error{Name: name, Reason: fmt.Sprintf(format, args...)})
	}

	if mode&(Restore|Replicate) != 0 || (mode&Verify != 0 && c.DBPath != "") {
		c.validateDBPaths(bad)
	}
	loc, err := ParseReplicaURL(c.ReplicaURL)
	if err != nil {
		bad("REPLICA_URL", "%s", err.Error())
	}
	if c.S3Endpoint != "" {
		u, err := url.Parse(c.S3Endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("S3_ENDPOINT", "must be an http:// or https:// URL with a host, e.g. http://minio:9000")
		case u.User != nil:
			bad("S3_ENDPOINT", "must not hold credentials")
		}
	}
	if c.S3CAFile != "" {
		name := "S3_CA_FILE"
		if c.S3CAFile == c.AWSCABundle {
			name = "AWS_CA_BUNDLE"
		}
		if _, err := os.Stat(c.S3CAFile); err != nil {
			bad(name, "cannot read %q: %v", short(c.S3CAFile), errors.Unwrap(err))
		}
	}
	if loc.Scheme == "s3" && (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		bad("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	}
	oneOf(bad, "LOG_FORMAT", c.LogFormat, LogFormatText, LogFormatJSON)
	oneOf(bad, "LOG_LEVEL", strings.ToLower(c.LogLevel), "debug", "info", "warn", "error")

	if mode&(Restore|Verify) != 0 {
		positive(bad, "RESTORE_TIMEOUT", c.RestoreTimeout)
		oneOf(bad, "RESTORE_INTEGRITY_CHECK", c.RestoreIntegrityCheck, IntegrityQuick, IntegrityFull, IntegrityNone)
	}
	if mode&Restore != 0 {
		oneOf(bad, "RESTORE_IF_REPLICA_MISSING", c.RestoreIfReplicaMissing, IfMissingNew, IfMissingFail)
		positive(bad, "RESTORE_LEASE_WAIT", c.RestoreLeaseWait)
		if c.RestoreOwner != "" && !validOwner(c.RestoreOwner) {
			bad("RESTORE_OWNER", "%q is not uid:gid with numeric ids, e.g. 1000:1000", short(c.RestoreOwner))
		}
	}
	if mode&Replicate != 0 {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			bad("METRICS_ADDR", "%q is not host:port, e.g. :9090", short(c.MetricsAddr))
		}
		positive(bad, "SYNC_INTERVAL", c.SyncInterval)
		positive(bad, "SNAPSHOT_INTERVAL", c.SnapshotInterval)
		positive(bad, "RETENTION", c.Retention)
		positive(bad, "SHUTDOWN_TIMEOUT", c.ShutdownTimeout)
		positive(bad, "S3_STALL_TIMEOUT", c.S3StallTimeout)
	}
	if len(errs) == 0 {
		return nil
	}
	return sysexit.New(sysexit.Usage, errors.Join(errs...))
}

func oneOf(bad func(string, string, ...any), name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	bad(name, "%q is not one of %s", short(v), strings.Join(allowed, ", "))
}

func positive(bad func(string, string, ...any), name string, d time.Duration) {
	if d <= 0 {
		bad(name, "must be a positive duration such as 30s, got %s", d)
	}
}

func validOwner(s string) bool {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	for _, id := range []string{u, g} {
		if n, err := strconv.Atoi(id); err != nil || n < 0 {
			return false
		}
	}
	return true
}
