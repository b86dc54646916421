package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestConfigErrors runs both binaries with bad settings: exit 64, one line
// naming the variable, and the secret (set in every case) never printed.
func TestConfigErrors(t *testing.T) {
	bins := testenv.Binaries(t)
	creds := []string{"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"missing DB_PATH", append(creds, "REPLICA_URL=s3://backups/app"), nil, "DB_PATH"},
		{"malformed REPLICA_URL", append(creds, "DB_PATH=/tmp/x/app.db", "REPLICA_URL=s3:/"+"/"+testenv.SecretKey+"@Bad Bucket"), nil, "REPLICA_URL"},
		{"unreadable _FILE", []string{"DB_PATH=/tmp/x/app.db", "REPLICA_URL=s3://backups/app", "AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY_FILE=/nonexistent/" + "secret"}, nil, "AWS_SECRET_ACCESS_KEY_FILE"},
		{"bad flag value", append(creds, "REPLICA_URL=s3://backups/app"), []string{"--db-path=/tmp/x/app.db", "--log-format=xml"}, "LOG_FORMAT"},
		{"unknown flag", creds, []string{"--no-such-flag"}, "no-such-flag"},
	} {
		for _, bin := range []string{"restore", "replicate"} {
			t.Run(bin+"/"+tc.name, func(t *testing.T) {
				r := testenv.Exec(t, 30*time.Second, filepath.Join(bins, bin), tc.env, tc.args...)
				if r.Code != 64 {
					t.Fatalf("exit %d, want 64; output: %s", r.Code, r.Output())
				}
				if !strings.Contains(r.Stderr, tc.want) {
					t.Fatalf("stderr does not name %s: %s", tc.want, r.Stderr)
				}
				if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
					t.Fatalf("error is %d lines, want one: %s", n+1, r.Stderr)
				}
				if strings.Contains(r.Output(), testenv.SecretKey) {
					t.Fatalf("output holds the secret: %s", r.Output())
				}
			})
		}
	}
}

// TestHelpAndVersion: --help lists every variable of the binary, its exit
// codes, and no secret even when one is set; --version names the binary.
func TestHelpAndVersion(t *testing.T) {
	bins := testenv.Binaries(t)
	env := []string{"AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey, "AWS_ACCESS_KEY_ID=" + testenv.AccessKey}
	wants := map[string][]string{
		"restore":   {"DB_PATH", "REPLICA_URL", "S3_ENDPOINT", "AWS_SECRET_ACCESS_KEY", "RESTORE_TIMEOUT", "RESTORE_IF_REPLICA_MISSING", "RESTORE_INTEGRITY_CHECK", "RESTORE_OWNER", "--db-path", "50s", "77"},
		"replicate": {"DB_PATH", "REPLICA_URL", "METRICS_ADDR", "SYNC_INTERVAL", "SNAPSHOT_INTERVAL", "RETENTION", "SHUTDOWN_TIMEOUT", "LEASE", ":9090", "25s", "75"},
	}
	for bin, want := range wants {
		r := testenv.Exec(t, 30*time.Second, filepath.Join(bins, bin), env, "--help")
		if r.Code != 0 {
			t.Fatalf("%s --help exit %d", bin, r.Code)
		}
		for _, w := range want {
			if !strings.Contains(r.Stdout, w) {
				t.Errorf("%s --help lacks %q", bin, w)
			}
		}
		if strings.Contains(r.Output(), testenv.SecretKey) || strings.Contains(r.Output(), testenv.AccessKey) {
			t.Errorf("%s --help prints a credential", bin)
		}
		v := testenv.Exec(t, 30*time.Second, filepath.Join(bins, bin), nil, "--version")
		if v.Code != 0 || !strings.HasPrefix(v.Stdout, bin+" ") || !strings.Contains(v.Stdout, "go1.") {
			t.Errorf("%s --version: exit %d, %q", bin, v.Code, v.Stdout)
		}
	}
}
