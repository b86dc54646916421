package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// TestDatabases pins the contract of docs/design.md "Several databases":
// one path keeps REPLICA_URL as it is; several each replicate to
// <REPLICA_URL>/<file name>.
func TestDatabases(t *testing.T) {
	// A path with a comma in it is one path when the filesystem has it:
	// the directory with the comma in its name, or the file itself.
	dir := t.TempDir()
	commaDir, commaFile := filepath.Join(dir, "a,_b"), filepath.Join(dir, "app.db,logs.db")
	if err := os.Mkdir(commaDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(commaFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dbPath, url string
		want        [][2]string // DBPath, ReplicaURL of each
	}{
		{"/data/app.db", "s3://backups/app/", [][2]string{{"/data/app.db", "s3://backups/app/"}}},
		{"/config/sonarr.db,/config/logs.db", "s3://backups/sonarr",
			[][2]string{{"/config/sonarr.db", "s3://backups/sonarr/sonarr.db"}, {"/config/logs.db", "s3://backups/sonarr/logs.db"}}},
		{commaDir + "/app.db", "s3://backups/app", [][2]string{{commaDir + "/app.db", "s3://backups/app"}}},
		{commaFile, "s3://backups/app", [][2]string{{commaFile, "s3://backups/app"}}},
		{"data/app.db", "s3://backups/app", [][2]string{{"data/app.db", "s3://backups/app"}}},
		{" /a/x.db , /b/y.db ", "file:///var/backups/app",
			[][2]string{{"/a/x.db", "file:///var/backups/app/x.db"}, {"/b/y.db", "file:///var/backups/app/y.db"}}},
	} {
		cfg, err := load(t, config.Restore, []string{"DB_PATH=" + tc.dbPath, "REPLICA_URL=" + tc.url})
		if err != nil {
			t.Fatalf("%s: %v", tc.dbPath, err)
		}
		var got [][2]string
		for _, one := range cfg.Each() {
			got = append(got, [2]string{one.DBPath, one.ReplicaURL})
			if one.Several() {
				t.Fatalf("%s: a per-database Config still names several: %q", tc.dbPath, one.DBPath)
			}
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: Each() = %v, want %v", tc.dbPath, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%s: Each()[%d] = %v, want %v", tc.dbPath, i, got[i], tc.want[i])
			}
		}
	}
}

// TestDatabasesInvalid: an empty item, a relative item in a list, a
// directory, or two files of the same name exit 64 naming DB_PATH and the
// items.
func TestDatabasesInvalid(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d.db"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dbPath, want string }{
		{"/a/x.db,,/b/y.db", "empty item (item 2)"},
		{"/a/x.db,", "empty item (item 2)"},
		{"/a/x.db,/b/x.db", `"/a/x.db" and "/b/x.db" have the same file name`},
		{"/a/x.db," + filepath.Join(dir, "d.db"), "names a directory"},
		{filepath.Join(dir, "d.db"), "names a directory"},
		{"/data/", "names a directory"},
		// A relative item after a comma is a mistyped list, not one path,
		// unless that path exists (TestDatabases).
		{"/x/app.db,logs.db", `item 2 "logs.db" is not an absolute path`},
		{"/x/app.db, logs.db", `item 2 "logs.db" is not an absolute path`},
		{"data/a.db,data/b.db", `item 1 "data/a.db", item 2 "data/b.db" are not absolute paths`},
		{filepath.Join(dir, "no,_such") + "/app.db", `item 2 "_such/app.db" is not an absolute path`},
		{filepath.Join(dir, "app.db,logs.db"), `item 2 "logs.db" is not an absolute path`},
	} {
		for _, mode := range []config.Mode{config.Restore, config.Replicate} {
			_, err := load(t, mode, []string{"DB_PATH=" + tc.dbPath, "REPLICA_URL=s3://backups/app"})
			if err == nil || sysexit.Code(err) != sysexit.Usage || !strings.Contains(err.Error(), "DB_PATH") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DB_PATH=%q (mode %d): %v (exit %d); want exit 64 naming DB_PATH and %q", tc.dbPath, mode, err, sysexit.Code(err), tc.want)
			}
		}
	}
}

// TestOwnSettingsOnly: one ConfigMap serves both containers, so each
// binary refuses only bad values of its own settings, and says what it
// accepts instead of quoting the parser.
func TestOwnSettingsOnly(t *testing.T) {
	other := []string{"DB_PATH=/data/app.db", "REPLICA_URL=s3://backups/app", "SYNC_INTERVAL=abc", "LEASE=maybe", "RESTORE_TIMEOUT=soon"}
	if _, err := load(t, config.Restore, other[:4]); err != nil {
		t.Fatalf("restore refused replicate's settings: %v", err)
	}
	if _, err := load(t, config.Replicate, append(other[:2:2], "RESTORE_TIMEOUT=soon", "RESTORE_OWNER=app")); err != nil {
		t.Fatalf("replicate refused restore's settings: %v", err)
	}
	_, err := load(t, config.Replicate, other)
	for _, want := range []string{
		`invalid SYNC_INTERVAL: "abc" is not a duration; use a number with a unit (ms, s, m, h), e.g. 1s`,
		`invalid LEASE: "maybe" is not true or false`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("replicate with bad values of its own: %v; want %q", err, want)
		}
	}
	for _, internal := range []string{"strconv", "ParseBool", "time: invalid"} {
		if strings.Contains(err.Error(), internal) {
			t.Fatalf("the message shows Go internals (%s): %v", internal, err)
		}
	}
	if _, err := load(t, config.Restore, other); err == nil || !strings.Contains(err.Error(), `invalid RESTORE_TIMEOUT: "soon" is not a duration`) {
		t.Fatalf("restore with a bad RESTORE_TIMEOUT: %v", err)
	}
}
