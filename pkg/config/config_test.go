package config_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

const secret = "sEcReT-value-42"

func load(t *testing.T, mode config.Mode, environ []string, args ...string) (*config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := config.Bind(fs, config.Restore|config.Verify|config.Replicate)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return l.Load(environ, mode)
}

var base = []string{"DB_PATH=/data/app.db", "REPLICA_URL=s3://backups/app"}

// TestPrecedence: a flag beats its variable, which beats the default.
func TestPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
		get     func(*config.Config) any
		want    any
	}{
		{"default", nil, nil, func(c *config.Config) any { return c.SyncInterval }, time.Second},
		{"env over default", []string{"SYNC_INTERVAL=5s"}, nil, func(c *config.Config) any { return c.SyncInterval }, 5 * time.Second},
		{"flag over env", []string{"SYNC_INTERVAL=5s"}, []string{"--sync-interval=7s"}, func(c *config.Config) any { return c.SyncInterval }, 7 * time.Second},
		{"flag over env string", []string{"DB_PATH=/env.db"}, []string{"--db-path", "/flag.db"}, func(c *config.Config) any { return c.DBPath }, "/flag.db"},
		{"bool default true", nil, nil, func(c *config.Config) any { return c.Lease }, true},
		{"bool env false", []string{"LEASE=false"}, nil, func(c *config.Config) any { return c.Lease }, false},
		{"bool flag without value", []string{"S3_SKIP_VERIFY=false"}, []string{"--s3-skip-verify"}, func(c *config.Config) any { return c.S3SkipVerify }, true},
		{"region default", nil, nil, func(c *config.Config) any { return c.S3Region }, "us-east-1"},
		{"secret flag over env", []string{"AWS_ACCESS_KEY_ID=envkey", "AWS_SECRET_ACCESS_KEY=x"}, []string{"--aws-access-key-id=flagkey"}, func(c *config.Config) any { return c.AccessKeyID.Reveal() }, "flagkey"},
		{"litestream alias", []string{"LITESTREAM_ACCESS_KEY_ID=aliaskey", "LITESTREAM_SECRET_ACCESS_KEY=x"}, nil, func(c *config.Config) any { return c.AccessKeyID.Reveal() }, "aliaskey"},
		{"aws name over alias", []string{"LITESTREAM_ACCESS_KEY_ID=aliaskey", "AWS_ACCESS_KEY_ID=awskey", "AWS_SECRET_ACCESS_KEY=x"}, nil, func(c *config.Config) any { return c.AccessKeyID.Reveal() }, "awskey"},
		{"ca bundle fallback", []string{"AWS_CA_BUNDLE=/etc/hostname"}, nil, func(c *config.Config) any { return c.S3CAFile }, "/etc/hostname"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(t, config.Replicate, append(append([]string{}, base...), tc.environ...), tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(cfg); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, config.Restore, append(base, "AWS_ACCESS_KEY_ID=id", "AWS_SECRET_ACCESS_KEY_FILE="+keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SecretAccessKey.Reveal() != secret {
		t.Fatalf("secret from file = %q, want %q (trailing newline trimmed)", cfg.SecretAccessKey.Reveal(), secret)
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%#v", *cfg)} {
		if strings.Contains(s, secret) {
			t.Fatalf("printed config holds the secret: %s", s)
		}
	}
	if !strings.Contains(cfg.String(), "AWS_SECRET_ACCESS_KEY=[redacted]") {
		t.Fatalf("String() does not show the secret as redacted: %s", cfg.String())
	}
}

// TestInvalid: every bad value fails with exit 64 and names its variable,
// and no error ever quotes a secret.
func TestInvalid(t *testing.T) {
	secrets := []string{"AWS_ACCESS_KEY_ID=" + secret, "AWS_SECRET_ACCESS_KEY=" + secret}
	for _, tc := range []struct {
		name    string
		mode    config.Mode
		environ []string
		want    string
	}{
		{"missing DB_PATH", config.Restore, []string{"REPLICA_URL=s3://b-1/p"}, "DB_PATH"},
		{"missing REPLICA_URL", config.Replicate, []string{"DB_PATH=/d/a.db"}, "REPLICA_URL"},
		{"malformed URL", config.Restore, []string{"DB_PATH=/d/a.db", "REPLICA_URL=::nope"}, "REPLICA_URL"},
		{"unsupported scheme", config.Restore, []string{"DB_PATH=/d/a.db", "REPLICA_URL=gs://b/p"}, "REPLICA_URL"},
		{"bad bucket", config.Restore, []string{"DB_PATH=/d/a.db", "REPLICA_URL=s3://B_/p"}, "REPLICA_URL"},
		{"no prefix", config.Restore, []string{"DB_PATH=/d/a.db", "REPLICA_URL=s3://bucket"}, "REPLICA_URL"},
		{"credentials in URL", config.Restore, []string{"DB_PATH=/d/a.db", "REPLICA_URL=s3://" + secret + "@bucket/p"}, "REPLICA_URL"},
		{"relative file URL", config.Restore, []string{"DB_PATH=/d/a.db", "REPLICA_URL=file://rel/dir"}, "REPLICA_URL"},
		{"bad duration", config.Replicate, append(base, "SYNC_INTERVAL=soon"), "SYNC_INTERVAL"},
		{"zero duration", config.Replicate, append(base, "SHUTDOWN_TIMEOUT=0s"), "SHUTDOWN_TIMEOUT"},
		{"bad bool", config.Replicate, append(base, "LEASE=maybe"), "LEASE"},
		{"bad policy", config.Restore, append(base, "RESTORE_IF_REPLICA_MISSING=maybe"), "RESTORE_IF_REPLICA_MISSING"},
		{"bad check", config.Restore, append(base, "RESTORE_INTEGRITY_CHECK=deep"), "RESTORE_INTEGRITY_CHECK"},
		{"bad owner", config.Restore, append(base, "RESTORE_OWNER=app"), "RESTORE_OWNER"},
		{"bad log format", config.Restore, append(base, "LOG_FORMAT=xml"), "LOG_FORMAT"},
		{"bad endpoint", config.Restore, append(base, "S3_ENDPOINT=minio:9000"), "S3_ENDPOINT"},
		{"bad metrics addr", config.Replicate, append(base, "METRICS_ADDR=9090"), "METRICS_ADDR"},
		{"unreadable secret file", config.Restore, append(base, "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY_FILE=/nonexistent/secret"), "AWS_SECRET_ACCESS_KEY_FILE"},
		{"half credentials", config.Restore, append(base, "AWS_SECRET_ACCESS_KEY="+secret), "AWS_SECRET_ACCESS_KEY"},
		{"missing CA file", config.Restore, append(base, "S3_CA_FILE=/nonexistent/ca.pem"), "S3_CA_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.environ
			if tc.name != "half credentials" && tc.name != "unreadable secret file" {
				env = append(append([]string{}, tc.environ...), secrets...)
			}
			_, err := load(t, tc.mode, env)
			if err == nil {
				t.Fatal("no error")
			}
			if code := sysexit.Code(err); code != sysexit.Usage {
				t.Fatalf("exit code %d, want %d: %v", code, sysexit.Usage, err)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not name %s as a config.Error: %v", tc.want, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error quotes the secret: %v", err)
			}
		})
	}
}

// TestVerifyModeNeedsNoDBPath: restore --verify works from flags alone.
func TestVerifyModeNeedsNoDBPath(t *testing.T) {
	if _, err := load(t, config.Verify, nil, "--replica-url", "file:///tmp/backups"); err != nil {
		t.Fatal(err)
	}
}

func TestParseReplicaURL(t *testing.T) {
	for raw, want := range map[string]string{
		"s3://backups/apps/overseerr/": "s3://backups/apps/overseerr",
		"s3://my.bucket-1/a":           "s3://my.bucket-1/a",
		"file:///var/backups/app":      "file:///var/backups/app",
		"file://localhost/var/b/../c":  "file:///var/c",
	} {
		loc, err := config.ParseReplicaURL(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if loc.String() != want {
			t.Errorf("%s: got %s, want %s", raw, loc, want)
		}
	}
}

// TestHugeValues: a value over the limit fails with exit 64, naming the
// variable, without echoing the value.
func TestHugeValues(t *testing.T) {
	huge := strings.Repeat("y", 1<<20)
	for _, name := range []string{"DB_PATH", "REPLICA_URL", "RESTORE_OWNER", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY_FILE", "LITESTREAM_ACCESS_KEY_ID"} {
		_, err := load(t, config.Restore, append(append([]string{}, base...), name+"="+huge))
		if sysexit.Code(err) != sysexit.Usage || !strings.Contains(err.Error(), name) || len(err.Error()) > 300 {
			t.Errorf("%s of 1 MiB: exit %d, %d-byte error: %.200v", name, sysexit.Code(err), len(err.Error()), err)
		}
	}
}
