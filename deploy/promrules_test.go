package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/litestream-sidecar/litestream-sidecar/deploy"
	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

const (
	ruleFile     = deploy.PrometheusRulePath
	ruleTestFile = "testdata/prometheusrule_test.yaml"
	// The plain Prometheus configuration: the rule file made from ruleFile
	// and the scrape job that does the PodMonitor's work.
	plainRules  = deploy.RuleFilePath
	plainConfig = "prometheus/prometheus.yml"
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

// TestPrometheusRuleFile: the rule file a Prometheus without the operator
// loads holds exactly the PrometheusRule's spec, so the two cannot drift.
func TestPrometheusRuleFile(t *testing.T) {
	src, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	want, err := deploy.RuleFile(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(plainRules)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the spec of %s: edit the PrometheusRule and run `make rules`", plainRules, ruleFile)
	}
	var a, b map[string]any
	if err := yaml.Unmarshal(src, &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a["spec"], b) {
		t.Errorf("%s does not decode to the spec of %s", plainRules, ruleFile)
	}
}

// TestPlainPrometheusScrape: the scrape job of the plain configuration
// reaches what the PodMonitor scrapes, the replicate sidecar's named port
// and path, and sets the labels the alerts group by.
func TestPlainPrometheusScrape(t *testing.T) {
	raw, err := os.ReadFile(plainConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName        string `json:"job_name"`
			MetricsPath    string `json:"metrics_path"`
			RelabelConfigs []struct {
				SourceLabels []string `json:"source_labels"`
				Regex        string   `json:"regex"`
				Action       string   `json:"action"`
				TargetLabel  string   `json:"target_label"`
			} `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", plainConfig, err)
	}
	if !slices.Equal(cfg.RuleFiles, []string{filepath.Base(plainRules)}) {
		t.Errorf("%s: rule_files %v, want [%s]", plainConfig, cfg.RuleFiles, filepath.Base(plainRules))
	}
	r := render(t, "overseerr-vault")
	ep := dig(r.PodMonitor, "spec", "podMetricsEndpoints").([]any)[0].(map[string]any)
	replicate := container(t, &r.Deployment.Spec.Template.Spec, "replicate")
	resolvePort(t, replicate, intstr.FromString(ep["port"].(string)))
	if len(cfg.ScrapeConfigs) != 1 {
		t.Fatalf("%s: %d scrape jobs, want 1", plainConfig, len(cfg.ScrapeConfigs))
	}
	job := cfg.ScrapeConfigs[0]
	if job.MetricsPath != ep["path"] {
		t.Errorf("%s: metrics_path %q, the PodMonitor's %q", plainConfig, job.MetricsPath, ep["path"])
	}
	keep, labels := "", map[string]bool{}
	for _, rc := range job.RelabelConfigs {
		if rc.Action == "keep" {
			keep = strings.Join(rc.SourceLabels, ";") + "=" + rc.Regex
		}
		labels[rc.TargetLabel] = true
	}
	if want := "__meta_kubernetes_pod_container_name;__meta_kubernetes_pod_container_port_name=" + replicate.Name + ";" + ep["port"].(string); keep != want {
		t.Errorf("%s keeps %q, want %q (the sidecar's container and port)", plainConfig, keep, want)
	}
	for _, l := range []string{"namespace", "pod"} {
		if !labels[l] {
			t.Errorf("%s sets no %s label; the alerts group by it", plainConfig, l)
		}
	}
}

// TestPrometheusRules evaluates the alerts with Prometheus's own engine:
// promtool checks the shipped rule file (PromQL parses, templates compile)
// and the plain configuration that loads it, and runs
// testdata/prometheusrule_test.yaml against the rules, where every alert
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
	if !slices.Equal(tests.RuleFiles, []string{filepath.Base(plainRules)}) {
		t.Fatalf("%s: rule_files is %v, want [%s] (the test copies the shipped rule file there)", ruleTestFile, tests.RuleFiles, filepath.Base(plainRules))
	}
	checkRuleCoverage(t, alerts, tests)

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Required(t, errors.New("promtool not found on PATH: install Debian's prometheus package (apt-get install --no-install-recommends prometheus) or put any Prometheus release's promtool on PATH"))
	}

	// The shipped rule file, which TestPrometheusRuleFile holds equal to
	// the PrometheusRule's spec; the configuration beside it loads it.
	runPromtool(t, promtool, filepath.Dir(plainRules), "check", "rules", filepath.Base(plainRules))
	dir := t.TempDir()
	for _, f := range []string{plainRules, ruleTestFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runPromtool(t, promtool, dir, "test", "rules", filepath.Base(ruleTestFile))

	// The configuration, with its Kubernetes discovery swapped for a
	// static target: Debian's promtool is built without Kubernetes service
	// discovery and refuses kubernetes_sd_configs; the relabelling, the
	// job and the rule_files entry are checked all the same.
	var conf map[string]any
	rawConf, err := os.ReadFile(plainConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(rawConf, &conf); err != nil {
		t.Fatal(err)
	}
	for _, job := range conf["scrape_configs"].([]any) {
		j := job.(map[string]any)
		if j["kubernetes_sd_configs"] == nil {
			t.Fatalf("%s: job %v has no kubernetes_sd_configs", plainConfig, j["job_name"])
		}
		delete(j, "kubernetes_sd_configs")
		j["static_configs"] = []any{map[string]any{"targets": []any{"127.0.0.1:9090"}}}
	}
	static, err := yaml.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(plainConfig)), static, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, promtool, dir, "check", "config", filepath.Base(plainConfig))
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
