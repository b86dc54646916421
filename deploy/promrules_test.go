package deploy_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

const (
	ruleFile     = "k8s/base/prometheusrule.yaml"
	ruleTestFile = "testdata/prometheusrule_test.yaml"
	// The name the test file's rule_files gives the extracted rules.
	extractedRules = "litestream-sidecar.rules.yaml"
)

// ruleTests is the part of a promtool unit-test file the coverage check reads.
type ruleTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name       string `json:"name"`
		AlertTests []struct {
			EvalTime  string           `json:"eval_time"`
			AlertName string           `json:"alertname"`
			ExpAlerts []map[string]any `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestPrometheusRules evaluates the PrometheusRule with Prometheus's own
// engine: promtool checks the rules (PromQL parses, templates compile) and
// runs testdata/prometheusrule_test.yaml against them, where every alert
// has a case that fires and one that stays silent.
func TestPrometheusRules(t *testing.T) {
	raw, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	var rule map[string]any
	if err := yaml.Unmarshal(raw, &rule); err != nil {
		t.Fatalf("%s: %v", ruleFile, err)
	}
	spec, ok := rule["spec"].(map[string]any)
	if !ok || spec["groups"] == nil {
		t.Fatalf("%s: no spec.groups", ruleFile)
	}
	var alerts []string
	for _, a := range ruleAlerts(rule) {
		if a.name != "" {
			alerts = append(alerts, a.name)
		}
	}
	if len(alerts) == 0 {
		t.Fatalf("%s: no alerts", ruleFile)
	}

	rawTests, err := os.ReadFile(ruleTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests ruleTests
	if err := yaml.Unmarshal(rawTests, &tests); err != nil {
		t.Fatalf("%s: %v", ruleTestFile, err)
	}
	if !slices.Equal(tests.RuleFiles, []string{extractedRules}) {
		t.Fatalf("%s: rule_files is %v, want [%s] (the test writes the extracted rules there)", ruleTestFile, tests.RuleFiles, extractedRules)
	}
	checkRuleCoverage(t, alerts, tests)

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Required(t, errors.New("promtool not found on PATH: install Debian's prometheus package (apt-get install --no-install-recommends prometheus) or put any Prometheus release's promtool on PATH"))
	}

	// promtool reads plain rule files: the CRD's spec is exactly one.
	dir := t.TempDir()
	groups, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, extractedRules), groups, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(ruleTestFile)), rawTests, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, promtool, dir, "check", "rules", extractedRules)
	runPromtool(t, promtool, dir, "test", "rules", filepath.Base(ruleTestFile))
}

// checkRuleCoverage: every alert in the rules has a case where it fires and
// one where it stays silent, and every case names an alert that exists
// (promtool would pass a silent case for a misspelt or deleted alert).
func checkRuleCoverage(t *testing.T, alerts []string, tests ruleTests) {
	t.Helper()
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, g := range tests.Tests {
		for _, c := range g.AlertTests {
			if !slices.Contains(alerts, c.AlertName) {
				t.Errorf("%s: test %q at %s checks %q, which %s does not define", ruleTestFile, g.Name, c.EvalTime, c.AlertName, ruleFile)
			}
			if len(c.ExpAlerts) > 0 {
				fires[c.AlertName] = true
			} else {
				silent[c.AlertName] = true
			}
		}
	}
	for _, a := range alerts {
		if !fires[a] {
			t.Errorf("%s: no case where %s fires (add one to %s)", ruleFile, a, ruleTestFile)
		}
		if !silent[a] {
			t.Errorf("%s: no case where %s stays silent (add one to %s)", ruleFile, a, ruleTestFile)
		}
	}
}

// runPromtool runs promtool in dir and fails the test with its output when
// it exits non-zero.
func runPromtool(t *testing.T, promtool, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	t.Logf("promtool %v:\n%s", args, out)
}
