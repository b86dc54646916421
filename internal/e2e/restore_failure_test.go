package e2e_test

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreUnreachable: a closed port and a server that accepts but never
// answers both exit 69 with nothing at DB_PATH, and the whole run ends
// within RESTORE_TIMEOUT plus a margin (the margin is generous: it only
// has to tell "bounded by the deadline" from "hangs").
func TestRestoreUnreachable(t *testing.T) {
	const timeout = 3 * time.Second
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // accepted, never answered, closed at the end
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	for _, tc := range []struct{ name, addr, cause string }{
		{"closed port", testenv.FreeAddr(t), "connection refused"},
		{"accepts but never answers", silent.Addr().String(), "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "app.db")
			env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/app", "S3_ENDPOINT=http://" + tc.addr,
				"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey,
				"RESTORE_TIMEOUT=" + timeout.String()}
			r := runRestore(t, env)
			assertFailed(t, r, 69, dbPath)
			if r.Duration > timeout+10*time.Second {
				t.Fatalf("run took %s, want about RESTORE_TIMEOUT (%s)", r.Duration, timeout)
			}
			// The line kubectl describe shows names the setting, the
			// endpoint and the last real cause.
			line := lastLine(r.Stderr)
			for _, want := range []string{"RESTORE_TIMEOUT=3s", "S3 endpoint http://" + tc.addr, tc.cause} {
				if !strings.Contains(line, want) {
					t.Fatalf("the error line lacks %q: %s", want, line)
				}
			}
		})
	}
}

// TestRestoreRefusals: wrong credentials (77), a missing bucket (65), an
// empty prefix under RESTORE_IF_REPLICA_MISSING=fail (65, naming the URL and
// the sibling prefix that does hold a backup) and under new (0, nothing at
// DB_PATH, a "new" marker, the same hint in the log), and an output
// directory that cannot be created (73).
func TestRestoreRefusals(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/real", 0)
	s.stopSidecar(t)

	t.Run("wrong credentials", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/apps/real", "S3_ENDPOINT=" + m.Endpoint,
			"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=wrong-" + testenv.SecretKey}
		r := runRestore(t, env)
		assertFailed(t, r, 77, dbPath)
		if strings.Contains(r.Output(), "wrong-"+testenv.SecretKey) {
			t.Fatal("printed the wrong secret")
		}
	})
	t.Run("missing bucket", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		r := runRestore(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://no-such-bucket/apps/real"))
		assertFailed(t, r, 65, dbPath)
		if !strings.Contains(lastLine(r.Stderr), "no-such-bucket") {
			t.Fatalf("error does not name the bucket: %s", r.Stderr)
		}
	})
	t.Run("empty prefix, fail", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		r := runRestore(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/typo", "RESTORE_IF_REPLICA_MISSING=fail"))
		assertFailed(t, r, 65, dbPath)
		last := lastLine(r.Stderr)
		for _, want := range []string{"s3://backups/apps/typo", "did you mean s3://backups/apps/real"} {
			if !strings.Contains(last, want) {
				t.Fatalf("error does not say %q: %s", want, last)
			}
		}
	})
	t.Run("empty prefix, new", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "app.db")
		r := runRestore(t, append(m.Env(), "DB_PATH="+dbPath, "REPLICA_URL=s3://backups/apps/typo"))
		if r.Code != 0 {
			t.Fatalf("exit %d, want 0: %s", r.Code, r.Stderr)
		}
		assertNoSecret(t, r)
		if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
			t.Fatalf("proven-new run created DB_PATH (stat: %v)", err)
		}
		mk := readMarker(t, dbPath)
		if mk.Outcome != "new" || mk.ReplicaURL != "s3://backups/apps/typo" || mk.TXID != 0 {
			t.Fatalf("marker %+v, want outcome new for s3://backups/apps/typo", mk)
		}
		for _, want := range []string{"s3://backups/apps/typo", "did you mean s3://backups/apps/real"} {
			if !strings.Contains(r.Stderr, want) {
				t.Fatalf("log does not say %q: %s", want, r.Stderr)
			}
		}
	})
	t.Run("output directory not writable", func(t *testing.T) {
		// A regular file where a directory must be: unwritable even for root.
		blocker := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
		dbPath := filepath.Join(blocker, "app.db")
		r := runRestore(t, s.restoreEnv(dbPath))
		if r.Code != 73 {
			t.Fatalf("exit %d, want 73: %s", r.Code, r.Stderr)
		}
		assertNoSecret(t, r)
		if b, _ := os.ReadFile(blocker); string(b) != "not a directory" {
			t.Fatal("the blocking file was changed")
		}
	})
}

// TestMissingReplicaDirectory: the directory of a file:// REPLICA_URL is
// its bucket. Missing, both binaries exit 65 at once with the missing
// bucket's wording, and restore writes nothing (no "new" marker: the
// replica was not proven empty). With several databases it is REPLICA_URL's
// own directory that must exist; each database's sub-directory is its
// prefix, missing until its first sync, so a first boot is still proven new.
func TestMissingReplicaDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "backups", "app")
	want := `replica directory does not exist: "` + missing + `" (check the directory in REPLICA_URL)`
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "app.db")
	env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=file://" + missing}

	r := runRestore(t, env)
	assertFailed(t, r, 65, dbPath)
	if line := lastLine(r.Stderr); !strings.HasSuffix(line, want) {
		t.Fatalf("restore's error line is not %q: %s", want, line)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("restore wrote %s beside DB_PATH", ents[0].Name())
	}

	s := startSidecar(t, env)
	if code := s.exited(t, 60*time.Second); code != 65 || !strings.HasSuffix(lastLine(s.Output()), want) {
		t.Fatalf("replicate: exit %d, want 65 and %q: %s", code, want, s.Output())
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("replicate created the replica directory (stat: %v)", err)
	}

	root := t.TempDir()
	several := filepath.Join(dir, "a.db") + "," + filepath.Join(dir, "b.db")
	r = runRestore(t, []string{"DB_PATH=" + several, "REPLICA_URL=file://" + root})
	if r.Code != 0 {
		t.Fatalf("several databases under an existing REPLICA_URL directory: exit %d, want 0 (proven new): %s", r.Code, r.Stderr)
	}
}

// TestHTTPSToHTTPEndpoint: S3_ENDPOINT=https:// pointed at a plain-HTTP
// store gets the same answer on every retry ("server gave HTTP response to
// HTTPS client"). Both binaries exit 64 at once, with one line naming
// S3_ENDPOINT and the scheme, instead of retrying until RESTORE_TIMEOUT
// (restore) or for ever (replicate's wait for the lease). The bound is
// far below the 50 s deadline and far above a slow machine's start.
func TestHTTPSToHTTPEndpoint(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	endpoint := "https://" + strings.TrimPrefix(m.Endpoint, "http://")
	want := "S3_ENDPOINT " + endpoint + " answers plain HTTP, not HTTPS: use the scheme http://, not https://"
	env := append(slices.DeleteFunc(m.Env(), func(e string) bool { return strings.HasPrefix(e, "S3_ENDPOINT=") }),
		"S3_ENDPOINT="+endpoint, "REPLICA_URL=s3://backups/app", "RESTORE_TIMEOUT=50s")

	dbPath := filepath.Join(t.TempDir(), "app.db")
	r := runRestore(t, append(env, "DB_PATH="+dbPath))
	assertFailed(t, r, 64, dbPath)
	if line := lastLine(r.Stderr); !strings.Contains(line, want) {
		t.Fatalf("restore's error line lacks %q: %s", want, line)
	}
	if r.Duration > 20*time.Second {
		t.Fatalf("restore took %s: it retried an answer that never changes", r.Duration)
	}

	dbPath = filepath.Join(t.TempDir(), "app.db")
	openApp(t, dbPath).Close()
	start := time.Now()
	s := startSidecar(t, append(env, "DB_PATH="+dbPath))
	if code := s.exited(t, 60*time.Second); code != 64 || !strings.Contains(lastLine(s.Output()), want) {
		t.Fatalf("replicate: exit %d, want 64 and %q: %s", code, want, s.Output())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("replicate took %s to exit: it retried an answer that never changes", d)
	}
	assertNoSecret(t, testenv.Result{Stderr: s.Output()})
}
