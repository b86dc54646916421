package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreHelpAndFlagErrors: --help lists restore's command flags and
// every exit code; misused command flags exit 64 naming the flag, before
// any network call.
func TestRestoreHelpAndFlagErrors(t *testing.T) {
	bin := filepath.Join(testenv.Binaries(t), "restore")
	r := testenv.Exec(t, 30*time.Second, bin, nil, "--help")
	if r.Code != 0 {
		t.Fatalf("--help exit %d", r.Code)
	}
	for _, want := range []string{"--verify", "--json", "--output PATH", "--timestamp TIME", "--txid TXID", "RESTORE_OWNER",
		"RESTORE_TIMEOUT", "50s", "RESTORE_INTEGRITY_CHECK", "quick", "\n  0 ", "\n  64 ", "\n  65 ", "\n  69 ", "\n  73 ", "\n  77 "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	base := []string{"DB_PATH=/nonexistent/app.db", "REPLICA_URL=s3://backups/app", "S3_ENDPOINT=http://" + testenv.FreeAddr(t),
		"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--timestamp=yesterday"}, "--timestamp"},
		{[]string{"--txid=xyz"}, "--txid"},
		{[]string{"--txid=3", "--timestamp=2026-01-01T00:00:00Z"}, "--txid"},
		{[]string{"--json"}, "--verify"},
		{[]string{"--output=/tmp/x.db"}, "--verify"},
	} {
		r := testenv.Exec(t, 30*time.Second, bin, base, tc.args...)
		if r.Code != 64 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: exit %d, want 64 naming %s: %s", tc.args, r.Code, tc.want, r.Stderr)
		}
		if strings.Contains(r.Output(), testenv.SecretKey) {
			t.Errorf("%v printed the secret", tc.args)
		}
	}
}
