package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/restore"
)

// TestReportShapes: --verify --json prints one JSON object for one
// database, and one JSON array for several (even when one report was
// made); texts follow one another. --help and README.md say which.
func TestReportShapes(t *testing.T) {
	a := &restore.Report{ReplicaURL: "s3://backups/sonarr/sonarr.db", Integrity: "ok"}
	b := &restore.Report{ReplicaURL: "s3://backups/sonarr/logs.db", Integrity: "ok"}
	var out bytes.Buffer
	var obj map[string]any
	if err := printReports(&out, []*restore.Report{a}, true, false); err != nil || json.Unmarshal(out.Bytes(), &obj) != nil || obj["replica_url"] != a.ReplicaURL {
		t.Fatalf("one database, --json: %v, %s; want one JSON object", err, out.String())
	}
	for _, reps := range [][]*restore.Report{{a, b}, {b}} {
		out.Reset()
		var arr []map[string]any
		if err := printReports(&out, reps, true, true); err != nil || json.Unmarshal(out.Bytes(), &arr) != nil || len(arr) != len(reps) {
			t.Fatalf("several databases, %d reports, --json: %v, %s; want a JSON array of %d", len(reps), err, out.String(), len(reps))
		}
	}
	out.Reset()
	if err := printReports(&out, []*restore.Report{a, b}, false, true); err != nil ||
		strings.Index(out.String(), a.ReplicaURL) > strings.Index(out.String(), b.ReplicaURL) || !strings.Contains(out.String(), "\n\nReplica:") {
		t.Fatalf("several databases, text: %v\n%s\nwant both reports in order, apart", err, out.String())
	}

	var help, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &help, &stderr); code != 0 {
		t.Fatalf("--help exit %d: %s", code, stderr.String())
	}
	_, jsonFlag, _ := strings.Cut(help.String(), "\n  --json ")
	jsonFlag, _, _ = strings.Cut(jsonFlag, "\n  --")
	if !strings.Contains(jsonFlag, "one JSON object") || !strings.Contains(jsonFlag, "JSON array") {
		t.Errorf("--help's --json says %q; want one JSON object for one database and a JSON array for several", jsonFlag)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, laptop, _ := strings.Cut(string(readme), "\n## Restore from a laptop\n")
	laptop, _, _ = strings.Cut(laptop, "\n## ")
	if !strings.Contains(laptop, "one JSON object") || !strings.Contains(laptop, "JSON array") {
		t.Errorf("README.md \"Restore from a laptop\" does not say --json prints one JSON object for one database and a JSON array for several")
	}
}
