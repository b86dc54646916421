package deploy_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/litestream-sidecar/litestream-sidecar/deploy"
)

// rendered is a kustomization rendered and decoded: the built-in kinds
// strictly into k8s.io/api types (an unknown or misspelt field fails the
// decode), the CRDs (Prometheus Operator, External Secrets) as maps.
// Decoded as kubectl sends them: YAML to JSON with no Go type in view, then
// JSON into the type. yaml.UnmarshalStrict would look at the target field
// and turn an unquoted 0000 back into the string "0000"; kubectl sends the
// number, and the API server refuses it.
type rendered struct {
	Deployment     *appsv1.Deployment
	ConfigMaps     map[string]*corev1.ConfigMap
	Secrets        map[string]*corev1.Secret
	PVCs           map[string]*corev1.PersistentVolumeClaim
	PodMonitor     map[string]any
	Rule           map[string]any
	ExternalSecret map[string]any
	Namespaces     map[string][]string // namespace -> kinds rendered into it
}

// render renders deploy/k8s/<example> with the same library kubectl embeds.
func render(t *testing.T, example string) *rendered {
	t.Helper()
	out, err := deploy.Kustomize(filepath.Join("k8s", example))
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}, PVCs: map[string]*corev1.PersistentVolumeClaim{}, Namespaces: map[string][]string{}}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			APIVersion, Kind string
			Metadata         struct{ Namespace string }
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%s: %v", example, err)
		}
		r.Namespaces[head.Metadata.Namespace] = append(r.Namespaces[head.Metadata.Namespace], head.Kind)
		strict := func(into any) {
			t.Helper()
			if err := decodeAsKubectl(doc, into); err != nil {
				t.Fatalf("%s: %s does not decode strictly into k8s.io/api: %v", example, head.Kind, err)
			}
		}
		loose := func() map[string]any {
			var m map[string]any
			if err := yaml.Unmarshal(doc, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			if r.Deployment != nil {
				t.Fatalf("%s: more than one Deployment", example)
			}
			r.Deployment = &appsv1.Deployment{}
			strict(r.Deployment)
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			strict(cm)
			r.ConfigMaps[cm.Name] = cm
		case "v1 Secret":
			s := &corev1.Secret{}
			strict(s)
			r.Secrets[s.Name] = s
		case "v1 PersistentVolumeClaim":
			p := &corev1.PersistentVolumeClaim{}
			strict(p)
			r.PVCs[p.Name] = p
		case "monitoring.coreos.com/v1 PodMonitor":
			r.PodMonitor = loose()
		case "monitoring.coreos.com/v1 PrometheusRule":
			r.Rule = loose()
		case "external-secrets.io/v1 ExternalSecret":
			r.ExternalSecret = loose()
		default:
			t.Fatalf("%s: unexpected object %s %s", example, head.APIVersion, head.Kind)
		}
	}
	if r.Deployment == nil {
		t.Fatalf("%s: no Deployment rendered", example)
	}
	return r
}

// decodeAsKubectl decodes one YAML document the way it reaches the API
// server: kubectl converts it to JSON by YAML's own types (an unquoted
// 0000 is a number), and the server decodes that JSON into the Go type,
// refusing unknown fields (strict validation) and a number where a string
// belongs.
func decodeAsKubectl(doc []byte, into any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// container finds a container or initContainer of the pod by name.
func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	t.Fatalf("no container %q in the pod", name)
	return nil
}

// env is a container's environment as the kubelet builds it: envFrom
// ConfigMaps first, then env (which wins). Only the sources the manifests
// use are resolved; anything else fails the test rather than being guessed.
func (r *rendered) env(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("%s: envFrom source other than a ConfigMap", c.Name)
		}
		cm, ok := r.ConfigMaps[from.ConfigMapRef.Name]
		if !ok {
			t.Fatalf("%s: envFrom ConfigMap %q is not rendered", c.Name, from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("%s: env %s uses valueFrom; credentials are files (_FILE)", c.Name, e.Name)
		}
		env[e.Name] = e.Value
	}
	return env
}

// mountFor returns the volume mount whose directory holds path (the longest
// mount path that is a prefix), or nil.
func mountFor(c *corev1.Container, path string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = m
		}
	}
	return best
}

func volume(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Volume {
	t.Helper()
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	t.Fatalf("no volume %q in the pod", name)
	return nil
}
