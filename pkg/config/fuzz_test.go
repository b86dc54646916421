package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// FuzzParseReplicaURL: any input either parses to a Location whose
// canonical form parses back to itself, or fails with an error that never
// quotes a password placed in the URL. Never a panic.
func FuzzParseReplicaURL(f *testing.F) {
	for _, s := range []string{
		"s3://backups/apps/overseerr", "s3://b/p/", "file:///var/backups/app", "file://localhost/x",
		"s3://user:" + secret + "@bucket/p", "s3://bucket", "gs://b/p", "::", "s3://bucket/a/../b",
		"s3://Bucket/p", "s3://bucket/p?endpoint=x", "file:///", "s3://bu\x00cket/p", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := config.ParseReplicaURL(raw)
		if err != nil {
			if passwordOnly(raw) && strings.Contains(err.Error(), secret) {
				t.Fatalf("error quotes the password: %v", err)
			}
			return
		}
		again, err := config.ParseReplicaURL(loc.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", loc.String(), raw, err)
		}
		if again != loc {
			t.Fatalf("canonical form changes the location: %+v -> %+v", loc, again)
		}
		if loc.Scheme == "s3" && (loc.Bucket == "" || loc.Prefix == "") {
			t.Fatalf("s3 location without bucket or prefix accepted: %+v", loc)
		}
	})
}

// passwordOnly says whether raw holds the secret only in its userinfo
// (RFC 3986: the authority before its last "@"), so that an error quoting
// it leaks a credential. A secret typed as the bucket or the prefix is not
// a credential, and errors must name those.
func passwordOnly(raw string) bool {
	_, after, ok := strings.Cut(raw, "://")
	if !ok {
		return false
	}
	authority := after
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		authority = after[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return false
	}
	userinfo := authority[:at]
	return strings.Contains(userinfo, secret) && !strings.Contains(strings.Replace(raw, userinfo, "", 1), secret)
}

// FuzzLoad: whatever value any variable holds, Load either succeeds or
// fails with exit 64 and an error naming a variable; it never panics and
// never quotes the secret.
func FuzzLoad(f *testing.F) {
	names := []string{"DB_PATH", "REPLICA_URL", "S3_ENDPOINT", "S3_REGION", "S3_SKIP_VERIFY", "LOG_FORMAT",
		"LOG_LEVEL", "RESTORE_TIMEOUT", "RESTORE_IF_REPLICA_MISSING", "RESTORE_INTEGRITY_CHECK", "RESTORE_OWNER",
		"METRICS_ADDR", "SYNC_INTERVAL", "SNAPSHOT_INTERVAL", "RETENTION", "SHUTDOWN_TIMEOUT", "LEASE"}
	for i, v := range []string{"", "x", "-1s", "1h", "true", "0", "a:b", strings.Repeat("9", 400), "\x00", ":0", "new", "1000:1000"} {
		f.Add(uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		name := names[int(which)%len(names)]
		environ := []string{"DB_PATH=/data/app.db", "REPLICA_URL=s3://backups/app",
			"AWS_ACCESS_KEY_ID=id", "AWS_SECRET_ACCESS_KEY=" + secret, name + "=" + value}
		for _, mode := range []config.Mode{config.Restore, config.Verify, config.Replicate} {
			_, err := load(t, mode, environ)
			if err == nil {
				continue
			}
			if code := sysexit.Code(err); code != sysexit.Usage {
				t.Fatalf("%s=%q: exit %d, want 64: %v", name, value, code, err)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%s=%q: error names no variable: %v", name, value, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("%s=%q: error quotes the secret: %v", name, value, err)
			}
		}
	})
}
