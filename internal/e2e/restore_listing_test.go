package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// TestRestoreListsLevelsOnce: a restore, and the no-op start after it,
// list the level directories once, in the preflight's one listing of
// <prefix>/000: the plan reads that listing instead of listing each level
// again (one round trip less before the download, on every pod start).
// A no-op start also reads the position's trailer through the
// preflight's open connections, not the replica client's first one, and
// asks for it beside the preflight, before the listing that names the file
// answers (the proxy holds that listing until the trailer is asked for).
// The requests are read off an HTTP proxy in front of MinIO.
func TestRestoreListsLevelsOnce(t *testing.T) {
	m := testenv.NewMinIO(t)
	mustMakeBucket(t, m, "backups")
	s := seedReplica(t, m, "backups", "apps/listed", 1)
	s.stopSidecar(t)

	target, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lists []string // the prefix of every listing
		sdk   []string // requests of the AWS SDK (Litestream's replica client)
		// hold: the levels' listing waits for a trailer request first
		// (closing trailer), at most 10 s; late says it waited that long.
		hold    bool
		trailer chan struct{}
		asked   bool
		late    bool
	)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		held, seen := false, trailer
		if r.URL.Query().Get("list-type") == "2" {
			lists = append(lists, r.URL.Query().Get("prefix"))
			held = hold && r.URL.Query().Get("prefix") == "apps/listed/000"
		}
		if strings.Contains(r.UserAgent(), "aws-sdk-go") {
			sdk = append(sdk, r.Method+" "+r.URL.Path)
		}
		if r.Method == http.MethodGet && r.Header.Get("Range") == "bytes=-16" && !asked {
			close(trailer)
			asked = true
		}
		mu.Unlock()
		if held {
			select {
			case <-seen:
			case <-time.After(10 * time.Second):
				mu.Lock()
				late = true
				mu.Unlock()
			}
		}
		rp.ServeHTTP(w, r) // the Host header stays the proxy's: the signature covers it
	}))
	defer proxy.Close()

	dbPath := filepath.Join(t.TempDir(), "app.db")
	env := []string{"DB_PATH=" + dbPath, "REPLICA_URL=s3://backups/apps/listed", "S3_ENDPOINT=" + proxy.URL,
		"AWS_ACCESS_KEY_ID=" + testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + testenv.SecretKey}
	level := regexp.MustCompile(`^apps/listed/[0-9a-f]{4}/$`)
	for _, run := range []string{"restore", "no-op start"} {
		mu.Lock()
		lists, sdk = nil, nil
		hold, trailer, asked = run == "no-op start", make(chan struct{}), false
		mu.Unlock()
		r := runRestore(t, env)
		if r.Code != 0 {
			t.Fatalf("%s: exit %d: %s", run, r.Code, r.Stderr)
		}
		if run == "no-op start" && !strings.Contains(r.Stderr, "already present") {
			t.Fatalf("%s: the database was not kept: %s", run, r.Stderr)
		}
		mu.Lock()
		var whole, single int
		for _, p := range lists {
			switch {
			case p == "apps/listed/000":
				whole++
			case level.MatchString(p):
				single++
			}
		}
		got, viaSDK, waited := strings.Join(lists, " "), strings.Join(sdk, ", "), late
		mu.Unlock()
		if waited {
			t.Errorf("%s asked for the position's trailer only after the listing answered: one more round trip before the app may start", run)
		}
		if whole != 1 || single != 0 {
			t.Errorf("%s listed <prefix>/000 %d times and single levels %d times, want once and never: %s", run, whole, single, got)
		}
		// A no-op start reads only small things (the lease, the position's
		// trailer): all through the connections the preflight opened.
		if run == "no-op start" && viaSDK != "" {
			t.Errorf("%s made requests through the replica client, which opens connections of its own: %s", run, viaSDK)
		}
		if run == "restore" && viaSDK == "" {
			t.Errorf("%s made no request through the replica client: the proxy no longer tells the clients apart", run)
		}
	}
	if got, want := rows(t, dbPath), rows(t, s.dbPath); len(got) != len(want) || len(got) == 0 {
		t.Fatalf("restored %d rows, the source has %d", len(got), len(want))
	}
}
