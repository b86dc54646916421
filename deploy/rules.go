package deploy

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Where the alerts live, relative to this directory: the PrometheusRule is
// the source, the rule file for a Prometheus without the operator is made
// from it (RuleFile, `make rules`) and checked in beside a scrape config.
const (
	PrometheusRulePath = "k8s/components/prometheus-operator/prometheusrule.yaml"
	RuleFilePath       = "prometheus/litestream-sidecar.rules.yaml"
)

// RuleFile turns a PrometheusRule into the file a plain Prometheus loads
// with rule_files: the custom resource's spec is exactly such a file
// (groups, each with its rules). Key order and comments are kept, so the
// file reads like its source; the header names the source.
func RuleFile(prometheusRule []byte) ([]byte, error) {
	rn, err := yaml.Parse(string(prometheusRule))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PrometheusRulePath, err)
	}
	if kind := rn.GetKind(); kind != "PrometheusRule" {
		return nil, fmt.Errorf("%s: kind %q, want PrometheusRule", PrometheusRulePath, kind)
	}
	spec, err := rn.Pipe(yaml.Lookup("spec"))
	if err != nil || spec == nil || spec.Field("groups") == nil {
		return nil, fmt.Errorf("%s: no spec.groups", PrometheusRulePath)
	}
	body, err := spec.String()
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", PrometheusRulePath, err)
	}
	return []byte("# The alerts of deploy/" + PrometheusRulePath + " for a Prometheus\n" +
		"# without the Prometheus Operator: list this file under rule_files.\n" +
		"# Generated from its spec by `make rules`: edit the PrometheusRule,\n" +
		"# never this file (go test ./deploy fails while the two differ).\n" + body), nil
}
