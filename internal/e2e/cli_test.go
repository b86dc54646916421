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
	dir := t.TempDir()
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
		{"DB_PATH an existing directory", append(creds, "REPLICA_URL=s3://backups/app", "DB_PATH="+dir), nil, `invalid DB_PATH: "` + dir + `" names a directory`},
		{"DB_PATH a relative item after a comma", append(creds, "REPLICA_URL=s3://backups/app", "DB_PATH=/x/app.db,logs.db"), nil, `invalid DB_PATH: item 2 "logs.db" is not an absolute path`},
		{"DB_PATH two files of one name", append(creds, "REPLICA_URL=s3://backups/app", "DB_PATH=/a/app.db,/b/app.db"), nil, `invalid DB_PATH: "/a/app.db" and "/b/app.db" have the same file name`},
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

// TestDBPathWithComma: a DB_PATH with a comma that names an existing
// database stays one path, as it always was: restore keeps it (exit 0)
// instead of refusing it as a list with a relative item.
func TestDBPathWithComma(t *testing.T) {
	bins := testenv.Binaries(t)
	dbPath := filepath.Join(t.TempDir(), "app.db,logs.db")
	db := openApp(t, dbPath)
	insertRows(t, db, 1, 3)
	db.Close()
	r := testenv.Exec(t, 30*time.Second, filepath.Join(bins, "restore"), []string{"DB_PATH=" + dbPath, "REPLICA_URL=file://" + t.TempDir()})
	if r.Code != 0 || !strings.Contains(r.Stderr, "database already present") {
		t.Fatalf("restore of an existing %s: exit %d, want 0 keeping it: %s", dbPath, r.Code, r.Stderr)
	}
	if got := rows(t, dbPath); len(got) != 3 {
		t.Fatalf("the database holds %d rows, want the 3 it had", len(got))
	}
}

// TestOtherBinarysSettings: one ConfigMap serves both containers, so a
// value only replicate uses never stops restore (and the other way round),
// while a bad value of a binary's own setting says what it accepts.
func TestOtherBinarysSettings(t *testing.T) {
	bins := testenv.Binaries(t)
	env := []string{"DB_PATH=" + filepath.Join(t.TempDir(), "app.db"), "REPLICA_URL=file://" + t.TempDir(),
		"SYNC_INTERVAL=abc", "LEASE=maybe", "RESTORE_OWNER=app"}
	r := testenv.Exec(t, 30*time.Second, filepath.Join(bins, "restore"), append(env[:4:4], "LEASE=maybe"))
	if r.Code != 0 {
		t.Fatalf("restore refused replicate's settings: exit %d: %s", r.Code, r.Stderr)
	}
	r = testenv.Exec(t, 30*time.Second, filepath.Join(bins, "replicate"), env)
	if r.Code != 64 || !strings.Contains(r.Stderr, `invalid SYNC_INTERVAL: "abc" is not a duration; use a number with a unit (ms, s, m, h), e.g. 1s`) ||
		!strings.Contains(r.Stderr, `invalid LEASE: "maybe" is not true or false`) || strings.Contains(r.Stderr, "RESTORE_OWNER") {
		t.Fatalf("replicate: exit %d, want 64 naming its own two bad settings and not restore's: %s", r.Code, r.Stderr)
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
