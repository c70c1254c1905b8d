package deploy

// The Helm chart under deploy/helm/shp is checked here without a cluster or
// the helm binary, with Helm's Go SDK (helm.sh/helm/v4): the chart is loaded
// as helm loads it, each value set is validated against values.schema.json
// and merged with values.yaml, the templates are rendered as helm template
// renders them (in strict mode: a template that reads a value values.yaml
// does not have fails), and Helm's linter runs over each set. Every rendered
// manifest is then decoded strictly into Kubernetes' typed structs (apps/v1,
// core/v1, networking/v1, policy/v1, and a struct of the PodMonitoring
// fields the chart uses), so an unknown or misspelt field fails, and held to
// these rules, each of which a broken manifest in
// TestHelmRulesCatchBadManifests must break:
//
//   - labels: every object, and the pod template, has helm.sh/chart and
//     app.kubernetes.io/name, instance, version and managed-by.
//   - resources: every container, init containers too, requests cpu and
//     memory and limits memory.
//   - security-context: the pod runs as a non-root user id with
//     runAsNonRoot and the RuntimeDefault seccomp profile, without host
//     namespaces or hostPath volumes; every container has
//     allowPrivilegeEscalation false, readOnlyRootFilesystem true, drops ALL
//     capabilities and adds none, and is not privileged.
//   - writable-paths: with its root file system read-only, the shp container
//     has emptyDir volumes on /tmp and on the project's .shp folder (under
//     --config), where shp serve keeps its control socket.
//   - probes: the shp container's liveness probe GETs /healthz on its port
//     "http", its startup and readiness probes GET /healthz or /readyz there,
//     each a GET route of internal/api that needs no key; every sidecar
//     (restartPolicy Always) has a liveness probe.
//   - image-pinned: every image has a tag other than latest, or a digest.
//   - no-literal-secrets: no environment variable whose name has a secret's
//     word (PASSWORD, PASSWD, SECRET, TOKEN, KEY, APIKEY, CREDENTIALS, DSN,
//     WEBHOOK) has a literal value; every secretKeyRef names a Secret and a
//     key; the chart renders no Secret.
//   - http-port: the shp container has a TCP port named http, the one its
//     --api-listen names.
//   - grace-fits: the pod's terminationGracePeriodSeconds is longer than shp
//     serve's --grace, so running runs can finish before the kill.
//   - one-alerting-replica: a Deployment of more than one replica runs shp
//     serve with --alerts=false (one process per metadata store evaluates
//     the alert rules).
//   - service-selects-pods: the Deployment's selector matches its pod
//     template; the Service is ClusterIP, selects with the Deployment's
//     selector, and targets a port the shp container names.
//   - podmonitoring-targets-port: the PodMonitoring selects the pod
//     template's labels and scrapes /metrics on a port the shp container
//     names.
//   - ingress-backend: every Ingress path leads to a rendered Service, on a
//     port the Service names.
//   - pdb-selects-pods: the PodDisruptionBudget selects the pod template's
//     labels and lets at least one pod be evicted (node upgrades would wait
//     forever otherwise).
//   - service-account: the pod runs as a named service account other than
//     default, the rendered one when the chart makes it, whose
//     iam.gke.io/gcp-service-account annotation, when present, is a Google
//     service account's email.
//
// The schema is checked to refuse bad values (TestHelmSchemaRefusesBadValues)
// and the templates to refuse what the schema cannot see
// (TestHelmTemplatesRefuseBadValues).

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	// helmKubeVersion is the Kubernetes version the chart is rendered and
	// linted for: a GKE minor version of the regular channel.
	helmKubeVersion = "v1.33.0"
	// helmReleaseName and helmNamespace name the rendered release.
	helmReleaseName = "shp"
	helmNamespace   = "shp"
	// shpContainerName is the shp serve container's name.
	shpContainerName = "shp"
	// testImage is the image repository the value sets use.
	testImage = "europe-west1-docker.pkg.dev/my-project-123/shp/shp"
)

// standardLabels are the labels every rendered object carries.
var standardLabels = []string{
	"helm.sh/chart",
	"app.kubernetes.io/name",
	"app.kubernetes.io/instance",
	"app.kubernetes.io/version",
	"app.kubernetes.io/managed-by",
}

// envSecretWords are the name parts that mark a secret in an environment
// variable: secretWords of the Dockerfile's rules, with DSN (a database URL
// holds its password) and WEBHOOK (a webhook URL is its own credential).
var envSecretWords = append(slices.Clone(secretWords), "DSN", "WEBHOOK")

// envSecretName reports whether an environment variable's name looks like a
// secret's: one of its parts, split at anything but letters and digits, is
// in envSecretWords.
func envSecretName(name string) bool {
	for _, part := range regexp.MustCompile(`[^A-Z0-9]+`).Split(strings.ToUpper(name), -1) {
		if slices.Contains(envSecretWords, part) {
			return true
		}
	}
	return false
}

// podMonitoring is a Managed Service for Prometheus PodMonitoring
// (monitoring.googleapis.com/v1), with the fields the chart uses.
type podMonitoring struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              podMonitoringSpec `json:"spec"`
}

// podMonitoringSpec is a PodMonitoring's spec: which pods, which endpoints.
type podMonitoringSpec struct {
	Selector  metav1.LabelSelector `json:"selector"`
	Endpoints []scrapeEndpoint     `json:"endpoints"`
}

// scrapeEndpoint is one endpoint a PodMonitoring scrapes.
type scrapeEndpoint struct {
	Port     intstr.IntOrString `json:"port"`
	Path     string             `json:"path,omitempty"`
	Scheme   string             `json:"scheme,omitempty"`
	Interval string             `json:"interval,omitempty"`
	Timeout  string             `json:"timeout,omitempty"`
}

// renderedObject is one manifest of a rendered chart.
type renderedObject struct {
	file string // the template, such as shp/templates/service.yaml
	kind string
	obj  metav1.Object
}

// String names the object in messages: "Service shp (shp/templates/service.yaml)".
func (o renderedObject) String() string {
	return fmt.Sprintf("%s %s (%s)", o.kind, o.obj.GetName(), o.file)
}

// renderedChart is a rendered chart's manifests, decoded, by kind.
type renderedChart struct {
	objects         []renderedObject
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	serviceAccounts []*corev1.ServiceAccount
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	ingresses       []*networkingv1.Ingress
	pdbs            []*policyv1.PodDisruptionBudget
	podMonitorings  []*podMonitoring
	notes           string // NOTES.txt, rendered
}

// kinds returns the kinds of the objects, sorted, once each.
func (r *renderedChart) kinds() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.kind)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// newObject returns an empty typed object for a manifest's apiVersion and
// kind; only the kinds the chart may render are known.
func newObject(apiVersion, kind string) (metav1.Object, error) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return new(appsv1.Deployment), nil
	case "v1 Service":
		return new(corev1.Service), nil
	case "v1 ServiceAccount":
		return new(corev1.ServiceAccount), nil
	case "v1 ConfigMap":
		return new(corev1.ConfigMap), nil
	case "v1 Secret":
		return new(corev1.Secret), nil
	case "networking.k8s.io/v1 Ingress":
		return new(networkingv1.Ingress), nil
	case "policy/v1 PodDisruptionBudget":
		return new(policyv1.PodDisruptionBudget), nil
	case "monitoring.googleapis.com/v1 PodMonitoring":
		return new(podMonitoring), nil
	}
	return nil, fmt.Errorf("unexpected apiVersion %q kind %q", apiVersion, kind)
}

// add files a decoded object under its kind.
func (r *renderedChart) add(file, kind string, obj metav1.Object) {
	r.objects = append(r.objects, renderedObject{file: file, kind: kind, obj: obj})
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r.deployments = append(r.deployments, o)
	case *corev1.Service:
		r.services = append(r.services, o)
	case *corev1.ServiceAccount:
		r.serviceAccounts = append(r.serviceAccounts, o)
	case *corev1.ConfigMap:
		r.configMaps = append(r.configMaps, o)
	case *corev1.Secret:
		r.secrets = append(r.secrets, o)
	case *networkingv1.Ingress:
		r.ingresses = append(r.ingresses, o)
	case *policyv1.PodDisruptionBudget:
		r.pdbs = append(r.pdbs, o)
	case *podMonitoring:
		r.podMonitorings = append(r.podMonitorings, o)
	}
}

// docSeparator splits a rendered file into YAML documents.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeChart decodes rendered files (name => content, as the engine
// returns them) strictly into typed objects.
func decodeChart(files map[string]string) (*renderedChart, error) {
	r := &renderedChart{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		switch {
		case strings.HasSuffix(name, "/NOTES.txt"):
			r.notes = files[name]
			continue
		case path.Ext(name) != ".yaml":
			if strings.TrimSpace(files[name]) != "" {
				return nil, fmt.Errorf("%s: a template that is not .yaml rendered something", name)
			}
			continue
		}
		for i, doc := range docSeparator.Split(files[name], -1) {
			var head struct {
				metav1.TypeMeta `json:",inline"`
			}
			var fields map[string]any
			if err := yaml.Unmarshal([]byte(doc), &fields); err != nil {
				return nil, fmt.Errorf("%s: document %d is not YAML: %w", name, i+1, err)
			}
			if len(fields) == 0 {
				continue // empty, or comments only
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
			}
			obj, err := newObject(head.APIVersion, head.Kind)
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", name, head.Kind, err)
			}
			if obj.GetName() == "" {
				return nil, fmt.Errorf("%s: %s has no metadata.name", name, head.Kind)
			}
			if obj.GetNamespace() != "" {
				return nil, fmt.Errorf("%s: %s %s sets metadata.namespace; helm install -n sets it", name, head.Kind, obj.GetName())
			}
			r.add(name, head.Kind, obj)
		}
	}
	return r, nil
}

// helmChartDir is the chart's folder.
func helmChartDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "deploy", "helm", "shp")
}

// loadHelmChart loads the chart as helm install does (.helmignore applies).
func loadHelmChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(helmChartDir(t))
	if err != nil {
		t.Fatalf("load deploy/helm/shp: %v", err)
	}
	return ch
}

// helmCapabilities are the capabilities of a GKE cluster at
// helmKubeVersion.
func helmCapabilities() (*common.Capabilities, error) {
	kv, err := common.ParseKubeVersion(helmKubeVersion)
	if err != nil {
		return nil, err
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	return caps, nil
}

// renderChart renders the chart as helm template does with valuesYAML as a
// -f file: the values are merged with values.yaml and validated against
// values.schema.json (an error names the values that break it), then the
// templates render in strict mode. It returns the rendered files by name.
func renderChart(ch *chart.Chart, valuesYAML string) (map[string]string, error) {
	vals, err := common.ReadValues([]byte(valuesYAML))
	if err != nil {
		return nil, fmt.Errorf("parse the values: %w", err)
	}
	caps, err := helmCapabilities()
	if err != nil {
		return nil, err
	}
	opts := common.ReleaseOptions{Name: helmReleaseName, Namespace: helmNamespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, opts, caps, false)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, top)
}

// mustRender renders and decodes the chart with valuesYAML, failing the
// test on any error.
func mustRender(t *testing.T, ch *chart.Chart, valuesYAML string) *renderedChart {
	t.Helper()
	files, err := renderChart(ch, valuesYAML)
	if err != nil {
		t.Fatalf("render deploy/helm/shp: %v", err)
	}
	r, err := decodeChart(files)
	if err != nil {
		t.Fatalf("decode the rendered manifests: %v", err)
	}
	return r
}

// lintChart runs Helm's linter (helm lint) over the chart with valuesYAML
// and reports its warnings and errors; its information is logged.
func lintChart(t *testing.T, valuesYAML string) {
	t.Helper()
	vals, err := common.ReadValues([]byte(valuesYAML))
	if err != nil {
		t.Fatalf("parse the values: %v", err)
	}
	kv, err := common.ParseKubeVersion(helmKubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	res := lint.RunAll(helmChartDir(t), vals, helmNamespace, lint.WithKubeVersion(kv))
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %v", m)
		} else {
			t.Logf("helm lint: %v", m)
		}
	}
}

// healthRoutes returns the GET routes of internal/api's routes() that need
// no role, apart from /metrics and the API's own: the paths a probe may use.
func healthRoutes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "api", "api.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`\{"GET", "(/[^"]*)", "",`).FindAllStringSubmatch(string(b), -1) {
		if p := m[1]; p != "/metrics" && !strings.HasPrefix(p, "/api/") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("internal/api/api.go: no key-less GET route found in routes()")
	}
	return out
}

// ---- helpers on the rendered objects ------------------------------------------

// containerRef is a container of a Deployment, named for messages.
type containerRef struct {
	where   string // "Deployment shp, container shp"
	c       *corev1.Container
	sidecar bool // an init container that keeps running
}

// containers returns every container of a Deployment's pod, init
// containers first.
func containers(d *appsv1.Deployment) []containerRef {
	var out []containerRef
	spec := &d.Spec.Template.Spec
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		out = append(out, containerRef{
			where:   fmt.Sprintf("Deployment %s, init container %s", d.Name, c.Name),
			c:       c,
			sidecar: c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways,
		})
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		out = append(out, containerRef{where: fmt.Sprintf("Deployment %s, container %s", d.Name, c.Name), c: c})
	}
	return out
}

// shpContainer returns the Deployment's shp container, or nil.
func shpContainer(d *appsv1.Deployment) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == shpContainerName {
			return c
		}
	}
	return nil
}

// argValue returns a flag's value from a container's args ("--flag value"
// or "--flag=value").
func argValue(args []string, flag string) (string, bool) {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

// namedPort returns the container's port of that name.
func namedPort(c *corev1.Container, name string) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// podPortFor reports whether a port reference (a name or a number) names a
// port of one of the pod's containers.
func podPortFor(d *appsv1.Deployment, ref intstr.IntOrString) bool {
	for _, cr := range containers(d) {
		for _, p := range cr.c.Ports {
			if (ref.Type == intstr.String && p.Name == ref.StrVal) || (ref.Type == intstr.Int && p.ContainerPort == ref.IntVal) {
				return true
			}
		}
	}
	return false
}

// envVar returns the container's environment variable of that name.
func envVar(c *corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// ---- rules ----------------------------------------------------------------------

// helmRule is one rule the rendered manifests must keep.
type helmRule struct {
	name  string
	check func(r *renderedChart) []string
}

// helmRules are the rules above; routes are the key-less GET routes of
// internal/api (healthRoutes).
func helmRules(routes []string) []helmRule {
	return []helmRule{
		{"labels", checkHelmLabels},
		{"resources", checkHelmResources},
		{"security-context", checkHelmSecurityContext},
		{"writable-paths", checkHelmWritablePaths},
		{"probes", func(r *renderedChart) []string { return checkHelmProbes(r, routes) }},
		{"image-pinned", checkHelmImagePinned},
		{"no-literal-secrets", checkHelmNoLiteralSecrets},
		{"http-port", checkHelmHTTPPort},
		{"grace-fits", checkHelmGrace},
		{"one-alerting-replica", checkHelmAlertingReplica},
		{"service-selects-pods", checkHelmServiceSelects},
		{"podmonitoring-targets-port", checkHelmPodMonitoring},
		{"ingress-backend", checkHelmIngressBackend},
		{"pdb-selects-pods", checkHelmPDB},
		{"service-account", checkHelmServiceAccount},
	}
}

func checkHelmLabels(r *renderedChart) []string {
	var out []string
	for _, o := range r.objects {
		for _, l := range standardLabels {
			if o.obj.GetLabels()[l] == "" {
				out = append(out, fmt.Sprintf("%s: metadata.labels has no %s", o, l))
			}
		}
	}
	for _, d := range r.deployments {
		for _, l := range standardLabels {
			if d.Spec.Template.Labels[l] == "" {
				out = append(out, fmt.Sprintf("Deployment %s: spec.template.metadata.labels has no %s", d.Name, l))
			}
		}
	}
	return out
}

func checkHelmResources(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		for _, cr := range containers(d) {
			res := cr.c.Resources
			for _, need := range []struct {
				field string
				list  corev1.ResourceList
				name  corev1.ResourceName
			}{
				{"resources.requests.cpu", res.Requests, corev1.ResourceCPU},
				{"resources.requests.memory", res.Requests, corev1.ResourceMemory},
				{"resources.limits.memory", res.Limits, corev1.ResourceMemory},
			} {
				if q, ok := need.list[need.name]; !ok || q.IsZero() {
					out = append(out, fmt.Sprintf("%s: no %s", cr.where, need.field))
				}
			}
		}
	}
	return out
}

func checkHelmSecurityContext(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		spec := &d.Spec.Template.Spec
		ps := spec.SecurityContext
		if ps == nil {
			ps = &corev1.PodSecurityContext{}
		}
		podNonRoot := ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		podSeccomp := ps.SeccompProfile != nil && ps.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
		if !podNonRoot {
			out = append(out, fmt.Sprintf("Deployment %s: spec.template.spec.securityContext.runAsNonRoot is not true", d.Name))
		}
		if ps.RunAsUser == nil || *ps.RunAsUser == 0 {
			out = append(out, fmt.Sprintf("Deployment %s: spec.template.spec.securityContext.runAsUser is not a non-root user id", d.Name))
		}
		if !podSeccomp {
			out = append(out, fmt.Sprintf("Deployment %s: spec.template.spec.securityContext.seccompProfile.type is not RuntimeDefault", d.Name))
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			out = append(out, fmt.Sprintf("Deployment %s: the pod shares a host namespace (hostNetwork, hostPID or hostIPC)", d.Name))
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				out = append(out, fmt.Sprintf("Deployment %s: volume %s is a hostPath", d.Name, v.Name))
			}
		}
		for _, cr := range containers(d) {
			sc := cr.c.SecurityContext
			if sc == nil {
				out = append(out, fmt.Sprintf("%s: no securityContext", cr.where))
				continue
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				out = append(out, fmt.Sprintf("%s: securityContext.allowPrivilegeEscalation is not false", cr.where))
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				out = append(out, fmt.Sprintf("%s: securityContext.readOnlyRootFilesystem is not true", cr.where))
			}
			if sc.Privileged != nil && *sc.Privileged {
				out = append(out, fmt.Sprintf("%s: securityContext.privileged is true", cr.where))
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				out = append(out, fmt.Sprintf("%s: securityContext.capabilities.drop has no ALL", cr.where))
			} else if len(sc.Capabilities.Add) > 0 {
				out = append(out, fmt.Sprintf("%s: securityContext.capabilities.add is %v; want none", cr.where, sc.Capabilities.Add))
			}
			if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
				out = append(out, fmt.Sprintf("%s: securityContext.runAsUser is 0 (root)", cr.where))
			}
			if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
				out = append(out, fmt.Sprintf("%s: securityContext.runAsNonRoot is false", cr.where))
			}
			if sc.SeccompProfile != nil && sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				out = append(out, fmt.Sprintf("%s: securityContext.seccompProfile.type is %s, not RuntimeDefault", cr.where, sc.SeccompProfile.Type))
			}
		}
	}
	return out
}

func checkHelmWritablePaths(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		c := shpContainer(d)
		if c == nil {
			out = append(out, fmt.Sprintf("Deployment %s: no container named %s", d.Name, shpContainerName))
			continue
		}
		config, ok := argValue(c.Args, "--config")
		if !ok {
			out = append(out, fmt.Sprintf("Deployment %s, container shp: args have no --config", d.Name))
			continue
		}
		emptyDirs := map[string]bool{}
		for _, v := range d.Spec.Template.Spec.Volumes {
			emptyDirs[v.Name] = v.EmptyDir != nil
		}
		for _, want := range []string{"/tmp", path.Join(config, ".shp")} {
			i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return path.Clean(m.MountPath) == want })
			switch {
			case i < 0:
				out = append(out, fmt.Sprintf("Deployment %s, container shp: nothing is mounted on %s, which shp writes to (the root file system is read-only)", d.Name, want))
			case c.VolumeMounts[i].ReadOnly || !emptyDirs[c.VolumeMounts[i].Name]:
				out = append(out, fmt.Sprintf("Deployment %s, container shp: %s is not a writable emptyDir (volume %s)", d.Name, want, c.VolumeMounts[i].Name))
			}
		}
	}
	return out
}

func checkHelmProbes(r *renderedChart, routes []string) []string {
	var out []string
	allowed := map[string][]string{}
	for _, p := range routes {
		if p == "/healthz" {
			allowed["liveness"] = append(allowed["liveness"], p)
		}
		if p == "/healthz" || p == "/readyz" {
			allowed["readiness"] = append(allowed["readiness"], p)
			allowed["startup"] = append(allowed["startup"], p)
		}
	}
	for _, d := range r.deployments {
		for _, cr := range containers(d) {
			if cr.sidecar && cr.c.LivenessProbe == nil {
				out = append(out, fmt.Sprintf("%s: a sidecar without a livenessProbe", cr.where))
			}
		}
		c := shpContainer(d)
		if c == nil {
			out = append(out, fmt.Sprintf("Deployment %s: no container named %s", d.Name, shpContainerName))
			continue
		}
		http, _ := namedPort(c, "http")
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
		}{{"liveness", c.LivenessProbe}, {"readiness", c.ReadinessProbe}, {"startup", c.StartupProbe}} {
			field := fmt.Sprintf("Deployment %s, container shp: %sProbe", d.Name, p.kind)
			switch {
			case p.probe == nil:
				out = append(out, field+": missing")
			case p.probe.HTTPGet == nil:
				out = append(out, field+": not an httpGet")
			default:
				g := p.probe.HTTPGet
				if !slices.Contains(allowed[p.kind], g.Path) {
					out = append(out, fmt.Sprintf("%s.httpGet.path is %q; want one of %q (key-less GET routes of internal/api)", field, g.Path, allowed[p.kind]))
				}
				if !(g.Port.Type == intstr.String && g.Port.StrVal == "http") && !(g.Port.Type == intstr.Int && http.ContainerPort != 0 && g.Port.IntVal == http.ContainerPort) {
					out = append(out, fmt.Sprintf("%s.httpGet.port is %s; want the port http", field, g.Port.String()))
				}
			}
		}
	}
	return out
}

func checkHelmImagePinned(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		for _, cr := range containers(d) {
			_, tag, digest := splitImage(cr.c.Image)
			switch {
			case digest != "" && !regexp.MustCompile(`^sha256:[a-f0-9]{64}$`).MatchString(digest):
				out = append(out, fmt.Sprintf("%s: image %q has a malformed digest", cr.where, cr.c.Image))
			case digest == "" && (tag == "" || tag == "latest"):
				out = append(out, fmt.Sprintf("%s: image %q is not pinned (no tag, or latest, and no digest)", cr.where, cr.c.Image))
			}
		}
	}
	return out
}

func checkHelmNoLiteralSecrets(r *renderedChart) []string {
	var out []string
	for _, s := range r.secrets {
		out = append(out, fmt.Sprintf("Secret %s: the chart renders a Secret; secrets come from existing Secrets by name (secretEnv)", s.Name))
	}
	for _, d := range r.deployments {
		for _, cr := range containers(d) {
			for _, e := range cr.c.Env {
				if envSecretName(e.Name) && e.Value != "" {
					out = append(out, fmt.Sprintf("%s: env %s has a literal value; a secret comes from a Secret (valueFrom.secretKeyRef)", cr.where, e.Name))
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					if ref := e.ValueFrom.SecretKeyRef; ref.Name == "" || ref.Key == "" {
						out = append(out, fmt.Sprintf("%s: env %s: secretKeyRef without a Secret name or key", cr.where, e.Name))
					}
				}
			}
		}
	}
	return out
}

func checkHelmHTTPPort(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		c := shpContainer(d)
		if c == nil {
			out = append(out, fmt.Sprintf("Deployment %s: no container named %s", d.Name, shpContainerName))
			continue
		}
		p, ok := namedPort(c, "http")
		if !ok {
			out = append(out, fmt.Sprintf("Deployment %s, container shp: no port named http", d.Name))
			continue
		}
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			out = append(out, fmt.Sprintf("Deployment %s, container shp: port http is %s, not TCP", d.Name, p.Protocol))
		}
		listen, ok := argValue(c.Args, "--api-listen")
		if !ok {
			out = append(out, fmt.Sprintf("Deployment %s, container shp: args have no --api-listen", d.Name))
			continue
		}
		if _, port, _ := strings.Cut(listen, ":"); port != strconv.Itoa(int(p.ContainerPort)) {
			out = append(out, fmt.Sprintf("Deployment %s, container shp: --api-listen %s is not the port http (%d)", d.Name, listen, p.ContainerPort))
		}
	}
	return out
}

func checkHelmGrace(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		c := shpContainer(d)
		if c == nil {
			continue
		}
		grace := 30 * time.Second // shp serve's default
		if v, ok := argValue(c.Args, "--grace"); ok {
			g, err := time.ParseDuration(v)
			if err != nil {
				out = append(out, fmt.Sprintf("Deployment %s, container shp: --grace %q: %v", d.Name, v, err))
				continue
			}
			grace = g
		}
		kill := 30 * time.Second // Kubernetes' default
		if s := d.Spec.Template.Spec.TerminationGracePeriodSeconds; s != nil {
			kill = time.Duration(*s) * time.Second
		}
		if kill <= grace {
			out = append(out, fmt.Sprintf("Deployment %s: terminationGracePeriodSeconds (%s) is not longer than shp serve's --grace (%s)", d.Name, kill, grace))
		}
	}
	return out
}

func checkHelmAlertingReplica(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		c := shpContainer(d)
		if c == nil || d.Spec.Replicas == nil || *d.Spec.Replicas <= 1 {
			continue
		}
		if v, ok := argValue(c.Args, "--alerts"); !ok || v != "false" {
			out = append(out, fmt.Sprintf("Deployment %s: %d replicas each evaluating the alert rules; run them with --alerts=false", d.Name, *d.Spec.Replicas))
		}
	}
	return out
}

func checkHelmServiceSelects(r *renderedChart) []string {
	var out []string
	for _, d := range r.deployments {
		tpl := labels.Set(d.Spec.Template.Labels)
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(tpl) {
			out = append(out, fmt.Sprintf("Deployment %s: spec.selector does not select its own pod template's labels", d.Name))
		}
	}
	if len(r.deployments) != 1 {
		return append(out, fmt.Sprintf("%d Deployments rendered; want 1", len(r.deployments)))
	}
	d := r.deployments[0]
	if len(r.services) == 0 {
		out = append(out, "no Service rendered")
	}
	for _, s := range r.services {
		if s.Spec.Type != corev1.ServiceTypeClusterIP {
			out = append(out, fmt.Sprintf("Service %s: spec.type is %q; want ClusterIP", s.Name, s.Spec.Type))
		}
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, fmt.Sprintf("Service %s: spec.selector %v does not select the Deployment's pods (labels %v)", s.Name, s.Spec.Selector, d.Spec.Template.Labels))
		}
		if d.Spec.Selector != nil && !maps.Equal(s.Spec.Selector, d.Spec.Selector.MatchLabels) {
			out = append(out, fmt.Sprintf("Service %s: spec.selector %v differs from the Deployment's %v", s.Name, s.Spec.Selector, d.Spec.Selector.MatchLabels))
		}
		for _, p := range s.Spec.Ports {
			if !podPortFor(d, p.TargetPort) {
				out = append(out, fmt.Sprintf("Service %s: port %s targets %s, which no container of the pod has", s.Name, p.Name, p.TargetPort.String()))
			}
		}
	}
	return out
}

func checkHelmPodMonitoring(r *renderedChart) []string {
	var out []string
	if len(r.podMonitorings) > 0 && len(r.deployments) != 1 {
		return []string{fmt.Sprintf("%d Deployments rendered; want 1", len(r.deployments))}
	}
	for _, pm := range r.podMonitorings {
		d := r.deployments[0]
		sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, fmt.Sprintf("PodMonitoring %s: spec.selector does not select the Deployment's pods (labels %v)", pm.Name, d.Spec.Template.Labels))
		}
		if len(pm.Spec.Endpoints) == 0 {
			out = append(out, fmt.Sprintf("PodMonitoring %s: spec.endpoints is empty", pm.Name))
		}
		for i, e := range pm.Spec.Endpoints {
			if e.Port.Type != intstr.String || !podPortFor(d, e.Port) {
				out = append(out, fmt.Sprintf("PodMonitoring %s: spec.endpoints[%d].port %s is not a port the pod names", pm.Name, i, e.Port.String()))
			}
			if e.Path != "/metrics" {
				out = append(out, fmt.Sprintf("PodMonitoring %s: spec.endpoints[%d].path is %q; want /metrics", pm.Name, i, e.Path))
			}
		}
	}
	return out
}

func checkHelmIngressBackend(r *renderedChart) []string {
	var out []string
	services := map[string]*corev1.Service{}
	for _, s := range r.services {
		services[s.Name] = s
	}
	for _, ing := range r.ingresses {
		if len(ing.Spec.Rules) == 0 {
			out = append(out, fmt.Sprintf("Ingress %s: no rules", ing.Name))
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil || len(rule.HTTP.Paths) == 0 {
				out = append(out, fmt.Sprintf("Ingress %s: rule for host %q has no paths", ing.Name, rule.Host))
				continue
			}
			for _, p := range rule.HTTP.Paths {
				b := p.Backend.Service
				if b == nil {
					out = append(out, fmt.Sprintf("Ingress %s: path %s has no service backend", ing.Name, p.Path))
					continue
				}
				s, ok := services[b.Name]
				if !ok {
					out = append(out, fmt.Sprintf("Ingress %s: path %s leads to Service %s, which the chart does not render", ing.Name, p.Path, b.Name))
					continue
				}
				if !slices.ContainsFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool {
					return (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
				}) {
					out = append(out, fmt.Sprintf("Ingress %s: path %s leads to port %q/%d of Service %s, which it does not have", ing.Name, p.Path, b.Port.Name, b.Port.Number, s.Name))
				}
			}
		}
	}
	return out
}

func checkHelmPDB(r *renderedChart) []string {
	var out []string
	if len(r.pdbs) > 0 && len(r.deployments) != 1 {
		return []string{fmt.Sprintf("%d Deployments rendered; want 1", len(r.deployments))}
	}
	for _, pdb := range r.pdbs {
		d := r.deployments[0]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, fmt.Sprintf("PodDisruptionBudget %s: spec.selector does not select the Deployment's pods", pdb.Name))
		}
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		}
		switch {
		case pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil:
			out = append(out, fmt.Sprintf("PodDisruptionBudget %s: both minAvailable and maxUnavailable", pdb.Name))
		case pdb.Spec.MinAvailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, replicas, true)
			if err != nil || n >= replicas {
				out = append(out, fmt.Sprintf("PodDisruptionBudget %s: minAvailable %s of %d replicas lets no pod be evicted", pdb.Name, pdb.Spec.MinAvailable.String(), replicas))
			}
		case pdb.Spec.MaxUnavailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, replicas, false)
			if err != nil || n < 1 {
				out = append(out, fmt.Sprintf("PodDisruptionBudget %s: maxUnavailable %s of %d replicas lets no pod be evicted", pdb.Name, pdb.Spec.MaxUnavailable.String(), replicas))
			}
		default:
			out = append(out, fmt.Sprintf("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable", pdb.Name))
		}
	}
	return out
}

// gcpServiceAccountRE matches a Google service account's email.
var gcpServiceAccountRE = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\.iam\.gserviceaccount\.com$`)

func checkHelmServiceAccount(r *renderedChart) []string {
	var out []string
	for _, sa := range r.serviceAccounts {
		if gsa, ok := sa.Annotations["iam.gke.io/gcp-service-account"]; ok && !gcpServiceAccountRE.MatchString(gsa) {
			out = append(out, fmt.Sprintf("ServiceAccount %s: iam.gke.io/gcp-service-account %q is not a Google service account's email", sa.Name, gsa))
		}
	}
	for _, d := range r.deployments {
		name := d.Spec.Template.Spec.ServiceAccountName
		switch {
		case name == "" || name == "default":
			out = append(out, fmt.Sprintf("Deployment %s: spec.template.spec.serviceAccountName is %q; want shp's own (Workload Identity binds it)", d.Name, name))
		case len(r.serviceAccounts) > 0 && !slices.ContainsFunc(r.serviceAccounts, func(sa *corev1.ServiceAccount) bool { return sa.Name == name }):
			out = append(out, fmt.Sprintf("Deployment %s: runs as service account %s, not the one the chart renders", d.Name, name))
		}
	}
	return out
}

// ---- tests --------------------------------------------------------------------------

// TestHelmChartMetadata checks Chart.yaml and values.yaml: a v2 chart at
// 0.1.0 whose appVersion is an image tag, compatible with the GKE version
// the chart is rendered for, and a comment above every top-level value.
func TestHelmChartMetadata(t *testing.T) {
	ch := loadHelmChart(t)
	md := ch.Metadata
	if err := md.Validate(); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	if md.APIVersion != chart.APIVersionV2 || md.Name != "shp" || md.Version != "0.1.0" || md.Type != "application" {
		t.Errorf("Chart.yaml: apiVersion %q, name %q, version %q, type %q; want v2, shp, 0.1.0, application", md.APIVersion, md.Name, md.Version, md.Type)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`).MatchString(md.AppVersion) || md.AppVersion == "latest" {
		t.Errorf("Chart.yaml: appVersion %q is not an image tag other than latest (image.tag defaults to it)", md.AppVersion)
	}
	if !chartv2util.IsCompatibleRange(md.KubeVersion, helmKubeVersion) {
		t.Errorf("Chart.yaml: kubeVersion %q does not accept %s, the version the chart is checked for", md.KubeVersion, helmKubeVersion)
	}
	if ch.Schema == nil {
		t.Error("the chart has no values.schema.json")
	}
	for _, f := range ch.Raw {
		if strings.HasPrefix(f.Name, "ci/") {
			t.Errorf("%s is loaded with the chart; .helmignore should leave ci/ out", f.Name)
		}
	}
	if tag, _ := ch.Values["image"].(map[string]any)["tag"].(string); tag != "" {
		t.Errorf("values.yaml: image.tag is %q; want empty (the chart's appVersion)", tag)
	}

	b, err := os.ReadFile(filepath.Join(helmChartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	key := regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*):`)
	for i, line := range lines {
		m := key.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
			t.Errorf("values.yaml:%d: %s has no comment above it", i+1, m[1])
		}
	}
}

// TestHelmRender renders the chart for several value sets, lints it with
// each, holds the manifests to every rule, and checks what each set must
// change.
func TestHelmRender(t *testing.T) {
	ch := loadHelmChart(t)
	rules := helmRules(healthRoutes(t))
	gkeValues, err := os.ReadFile(filepath.Join(helmChartDir(t), "ci", "gke-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		values string
		check  func(t *testing.T, r *renderedChart)
	}{
		{
			name:   "defaults",
			values: "image:\n  repository: " + testImage + "\n",
			check: func(t *testing.T, r *renderedChart) {
				want := []string{"Deployment", "PodDisruptionBudget", "PodMonitoring", "Service", "ServiceAccount"}
				if got := r.kinds(); !slices.Equal(got, want) {
					t.Errorf("kinds %v; want %v", got, want)
				}
				d := r.deployments[0]
				if *d.Spec.Replicas != 1 {
					t.Errorf("Deployment %s: spec.replicas %d; want 1", d.Name, *d.Spec.Replicas)
				}
				c := shpContainer(d)
				if want := testImage + ":" + ch.Metadata.AppVersion; c.Image != want {
					t.Errorf("Deployment %s, container shp: image %q; want %q (the tag defaults to appVersion)", d.Name, c.Image, want)
				}
				// The Dockerfile's CMD, with JSON logs as on Cloud Run.
				if want := []string{"serve", "--config", "/etc/shp", "--api-listen", "0.0.0.0:8080", "--log-format", "json"}; len(c.Args) < len(want) || !slices.Equal(c.Args[:len(want)], want) {
					t.Errorf("Deployment %s, container shp: args %q; want them to start with %q", d.Name, c.Args, want)
				}
				if v, _ := argValue(c.Args, "--alerts"); v != "true" {
					t.Errorf("Deployment %s, container shp: --alerts=%s; want true with one replica", d.Name, v)
				}
				if len(d.Spec.Template.Spec.InitContainers) != 0 || len(c.Env) != 0 {
					t.Errorf("Deployment %s: init containers or env by default: %v, %v", d.Name, d.Spec.Template.Spec.InitContainers, c.Env)
				}
				if sa := r.serviceAccounts[0]; len(sa.Annotations) != 0 {
					t.Errorf("ServiceAccount %s: annotations %v; want none without serviceAccount.gcpServiceAccount", sa.Name, sa.Annotations)
				}
				if pm := r.podMonitorings[0]; pm.Spec.Endpoints[0].Interval != "60s" {
					t.Errorf("PodMonitoring %s: spec.endpoints[0].interval %q; want 60s", pm.Name, pm.Spec.Endpoints[0].Interval)
				}
				if !strings.Contains(r.notes, "WARNING: serviceAccount.gcpServiceAccount is empty") {
					t.Errorf("NOTES.txt does not warn of the missing Workload Identity annotation:\n%s", r.notes)
				}
			},
		},
		{
			name:   "ci/gke-values.yaml",
			values: string(gkeValues),
			check: func(t *testing.T, r *renderedChart) {
				d := r.deployments[0]
				c := shpContainer(d)
				// Every variable the Terraform module's Cloud Run service
				// sets, and every ${VAR} of deploy/project, is set; the
				// secrets from Secrets.
				tree := readTree(t, terraformRoot(t))
				names := serviceEnv(t, tree.modules["modules/shp"])
				names = append(names, projectEnvRefs(t, filepath.Join(repoRoot(t), "deploy", "project"))...)
				for _, name := range names {
					e, ok := envVar(c, name)
					switch {
					case !ok:
						t.Errorf("Deployment %s, container shp: no env %s, which the Cloud Run service sets or deploy/project reads", d.Name, name)
					case envSecretName(name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil):
						t.Errorf("Deployment %s, container shp: env %s does not come from a Secret", d.Name, name)
					}
				}
				if e, _ := envVar(c, "SHP_METADATA_DSN"); e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "shp" || e.ValueFrom.SecretKeyRef.Key != "metadata-dsn" {
					t.Errorf("Deployment %s, container shp: env SHP_METADATA_DSN %+v; want secretKeyRef shp/metadata-dsn", d.Name, e)
				}
				if e, _ := envVar(c, "TEAMS_WEBHOOK_URL"); e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional {
					t.Errorf("Deployment %s, container shp: env TEAMS_WEBHOOK_URL %+v; want an optional secretKeyRef", d.Name, e)
				}
				// The Cloud SQL Auth Proxy: a native sidecar sharing
				// /cloudsql, so the module's DSN (host=/cloudsql/...) works.
				init := d.Spec.Template.Spec.InitContainers
				if len(init) != 1 || init[0].Name != "cloud-sql-proxy" || init[0].RestartPolicy == nil || *init[0].RestartPolicy != corev1.ContainerRestartPolicyAlways {
					t.Fatalf("Deployment %s: init containers %+v; want the cloud-sql-proxy sidecar with restartPolicy Always", d.Name, init)
				}
				if !slices.Contains(init[0].Args, "my-project-123:europe-west1:shp-metadata") || !slices.Contains(init[0].Args, "--unix-socket=/cloudsql") {
					t.Errorf("Deployment %s, init container cloud-sql-proxy: args %q; want the instance and --unix-socket=/cloudsql", d.Name, init[0].Args)
				}
				for _, cc := range []*corev1.Container{&init[0], c} {
					if !slices.ContainsFunc(cc.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "cloudsql" && m.MountPath == "/cloudsql" }) {
						t.Errorf("Deployment %s, container %s: /cloudsql is not mounted", d.Name, cc.Name)
					}
				}
				sa := r.serviceAccounts[0]
				if got := sa.Annotations["iam.gke.io/gcp-service-account"]; got != "shp-runtime@my-project-123.iam.gserviceaccount.com" {
					t.Errorf("ServiceAccount %s: iam.gke.io/gcp-service-account %q; want the Terraform module's runtime account", sa.Name, got)
				}
				if strings.Contains(r.notes, "WARNING") || strings.Contains(r.notes, "NOTE:") {
					t.Errorf("NOTES.txt warns although the values are complete:\n%s", r.notes)
				}
			},
		},
		{
			name: "ingress and replicas",
			values: `image:
  repository: ` + testImage + `
  tag: v1.2.3
replicaCount: 3
serve:
  alerts: false
ingress:
  enabled: true
  annotations:
    kubernetes.io/ingress.global-static-ip-name: shp-ip
  hosts:
    - host: shp.example.com
      paths:
        - path: /
          pathType: Prefix
  tls:
    - secretName: shp-tls
      hosts: [shp.example.com]
podDisruptionBudget:
  minAvailable: 2
podMonitoring:
  interval: 30s
`,
			check: func(t *testing.T, r *renderedChart) {
				d := r.deployments[0]
				if *d.Spec.Replicas != 3 {
					t.Errorf("Deployment %s: spec.replicas %d; want 3", d.Name, *d.Spec.Replicas)
				}
				if c := shpContainer(d); c.Image != testImage+":v1.2.3" {
					t.Errorf("Deployment %s, container shp: image %q; want tag v1.2.3", d.Name, c.Image)
				}
				if len(r.ingresses) != 1 {
					t.Fatalf("%d Ingresses; want 1", len(r.ingresses))
				}
				ing := r.ingresses[0]
				if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "shp-tls" || ing.Spec.Rules[0].Host != "shp.example.com" {
					t.Errorf("Ingress %s: spec.tls %+v, rules %+v; want shp-tls for shp.example.com", ing.Name, ing.Spec.TLS, ing.Spec.Rules)
				}
				if ing.Spec.IngressClassName != nil {
					t.Errorf("Ingress %s: spec.ingressClassName %q; want none (GKE's controller)", ing.Name, *ing.Spec.IngressClassName)
				}
				if ing.Annotations["kubernetes.io/ingress.global-static-ip-name"] != "shp-ip" {
					t.Errorf("Ingress %s: annotations %v; want the static IP's", ing.Name, ing.Annotations)
				}
				if s := r.services[0]; s.Annotations["cloud.google.com/neg"] != `{"ingress": true}` {
					t.Errorf("Service %s: annotations %v; want cloud.google.com/neg for GKE's Ingress", s.Name, s.Annotations)
				}
				if pdb := r.pdbs[0]; pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 2 || pdb.Spec.MaxUnavailable != nil {
					t.Errorf("PodDisruptionBudget %s: spec %+v; want minAvailable 2 only", pdb.Name, pdb.Spec)
				}
				if pm := r.podMonitorings[0]; pm.Spec.Endpoints[0].Interval != "30s" {
					t.Errorf("PodMonitoring %s: interval %q; want 30s", pm.Name, pm.Spec.Endpoints[0].Interval)
				}
				if !strings.Contains(r.notes, "https://shp.example.com/") {
					t.Errorf("NOTES.txt does not give the Ingress's URL:\n%s", r.notes)
				}
			},
		},
		{
			name: "extra env, project files, existing service account",
			values: `image:
  repository: ` + testImage + `
  digest: sha256:` + strings.Repeat("ab", 32) + `
fullnameOverride: pipelines
serviceAccount:
  create: false
  name: shp-ksa
env:
  SHP_BQ_LOCATION: EU
  SHP_RETRIES: "3"
secretEnv:
  SHP_METADATA_DSN:
    secretName: shp-db
    key: dsn
extraEnv:
  - name: POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: OIDC_CLIENT_SECRET
    valueFrom:
      secretKeyRef:
        name: shp-oidc
        key: client-secret
projectFiles:
  config.yaml: |
    project: gcp
  schemas/orders_schema.json: '{"fields": []}'
podMonitoring:
  enabled: false
podDisruptionBudget:
  enabled: false
serve:
  extraArgs: ["--resume-abandoned"]
podLabels:
  team: data
`,
			check: func(t *testing.T, r *renderedChart) {
				want := []string{"ConfigMap", "Deployment", "Service"}
				if got := r.kinds(); !slices.Equal(got, want) {
					t.Errorf("kinds %v; want %v", got, want)
				}
				d := r.deployments[0]
				if d.Name != "pipelines" || d.Spec.Template.Spec.ServiceAccountName != "shp-ksa" {
					t.Errorf("Deployment %s: service account %q; want Deployment pipelines as shp-ksa", d.Name, d.Spec.Template.Spec.ServiceAccountName)
				}
				if d.Spec.Template.Labels["team"] != "data" {
					t.Errorf("Deployment %s: pod labels %v; want team=data", d.Name, d.Spec.Template.Labels)
				}
				c := shpContainer(d)
				if want := testImage + ":" + ch.Metadata.AppVersion + "@sha256:" + strings.Repeat("ab", 32); c.Image != want {
					t.Errorf("Deployment %s, container shp: image %q; want %q", d.Name, c.Image, want)
				}
				if !slices.Contains(c.Args, "--resume-abandoned") {
					t.Errorf("Deployment %s, container shp: args %q; want --resume-abandoned", d.Name, c.Args)
				}
				for name, want := range map[string]string{"SHP_BQ_LOCATION": "EU", "SHP_RETRIES": "3"} {
					if e, _ := envVar(c, name); e.Value != want {
						t.Errorf("Deployment %s, container shp: env %s = %q; want %q", d.Name, name, e.Value, want)
					}
				}
				if e, _ := envVar(c, "POD_NAME"); e.ValueFrom == nil || e.ValueFrom.FieldRef == nil {
					t.Errorf("Deployment %s, container shp: env POD_NAME %+v; want a fieldRef", d.Name, e)
				}
				if e, _ := envVar(c, "OIDC_CLIENT_SECRET"); e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "shp-oidc" {
					t.Errorf("Deployment %s, container shp: env OIDC_CLIENT_SECRET %+v; want secretKeyRef shp-oidc", d.Name, e)
				}
				cm := r.configMaps[0]
				if cm.Name != "pipelines-project" || cm.Data["config.yaml"] != "project: gcp\n" || cm.Data["schemas__orders_schema.json"] != `{"fields": []}` {
					t.Errorf("ConfigMap %s: data %q; want config.yaml and schemas__orders_schema.json", cm.Name, cm.Data)
				}
				for key, file := range map[string]string{"config.yaml": "/etc/shp/config.yaml", "schemas__orders_schema.json": "/etc/shp/schemas/orders_schema.json"} {
					if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
						return m.Name == "project" && m.SubPath == key && m.MountPath == file && m.ReadOnly
					}) {
						t.Errorf("Deployment %s, container shp: ConfigMap key %s is not mounted read-only on %s", d.Name, key, file)
					}
				}
				if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
					return v.Name == "project" && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name
				}) {
					t.Errorf("Deployment %s: no volume project from ConfigMap %s", d.Name, cm.Name)
				}
				if !regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(d.Spec.Template.Annotations["checksum/project"]) {
					t.Errorf("Deployment %s: pod annotation checksum/project %q; want the ConfigMap's sha256 (a change restarts the pods)", d.Name, d.Spec.Template.Annotations["checksum/project"])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRender(t, ch, tt.values)
			lintChart(t, tt.values)
			for _, rule := range rules {
				for _, p := range rule.check(r) {
					t.Errorf("%s: %s", rule.name, p)
				}
			}
			if len(r.deployments) != 1 {
				t.Fatalf("%d Deployments rendered; want 1", len(r.deployments))
			}
			tt.check(t, r)
		})
	}
}

// TestHelmSchemaRefusesBadValues checks that values.schema.json refuses
// bad values before anything renders, naming the value.
func TestHelmSchemaRefusesBadValues(t *testing.T) {
	ch := loadHelmChart(t)
	const repo = "image:\n  repository: " + testImage + "\n"
	tests := []struct {
		name, values, want string
	}{
		{"replicas as a word", repo + "replicaCount: two\n", "/replicaCount"},
		{"no replica", repo + "replicaCount: 0\n", "/replicaCount"},
		{"image tag latest", "image:\n  repository: " + testImage + "\n  tag: latest\n", "/image/tag"},
		{"image with its tag in repository", "image:\n  repository: " + testImage + ":v1\n", "/image/repository"},
		{"malformed digest", repo[:len(repo)-1] + "\n  digest: sha256:abc\n", "/image/digest"},
		{"secret literal in env", repo + "env:\n  SHP_METADATA_DSN: host=db password=hunter2\n", "invalid propertyName 'SHP_METADATA_DSN'"},
		{"token literal in env", repo + "env:\n  github_token: abc\n", "invalid propertyName 'github_token'"},
		{"env value not a string", repo + "env:\n  SHP_RETRIES: 3\n", "/env/SHP_RETRIES"},
		{"secret literal in extraEnv", repo + "extraEnv:\n  - name: API_KEY\n    value: abc\n", "/extraEnv/0"},
		{"secretEnv without key", repo + "secretEnv:\n  SHP_METADATA_DSN:\n    secretName: shp\n", "/secretEnv/SHP_METADATA_DSN"},
		{"several replicas all alerting", repo + "replicaCount: 2\n", "/serve/alerts"},
		{"misspelt value", repo + "replicas: 2\n", "replicas"},
		{"service type", repo + "service:\n  port: 80\n  type: LoadBalancer\n", "type"},
		{"no memory request", repo + "resources:\n  requests:\n    memory: null\n", "/resources/requests"},
		{"project file outside the project", repo + "projectFiles:\n  ../etc/passwd: x\n", "invalid propertyName '../etc/passwd'"},
		{"project file in .shp", repo + "projectFiles:\n  .shp/serve.sock: x\n", "invalid propertyName '.shp/serve.sock'"},
		{"hostPath volume", repo + "extraVolumes:\n  - name: host\n    hostPath:\n      path: /\n", "/extraVolumes/0"},
		{"gcp service account not an email", repo + "serviceAccount:\n  gcpServiceAccount: shp-runtime\n", "/serviceAccount/gcpServiceAccount"},
		{"proxy image latest", repo + "cloudSqlProxy:\n  image:\n    tag: latest\n", "/cloudSqlProxy/image/tag"},
		{"grace not a duration", repo + "serve:\n  grace: thirty\n", "/serve/grace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderChart(ch, tt.values)
			if err == nil {
				t.Fatalf("values\n%s\nrendered; want the schema to refuse them", tt.values)
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("values\n%s\nrefused with %q; want a schema error naming %s", tt.values, err, tt.want)
			}
		})
	}
}

// TestHelmTemplatesRefuseBadValues checks what the templates refuse that
// the schema cannot see, each with a message naming the value to set.
func TestHelmTemplatesRefuseBadValues(t *testing.T) {
	ch := loadHelmChart(t)
	const repo = "image:\n  repository: " + testImage + "\n"
	tests := []struct {
		name, values, want string
	}{
		{"no image repository", "", "image.repository: set the shp image's repository"},
		{"variable in env and secretEnv", repo + "env:\n  SHP_X: a\nsecretEnv:\n  SHP_X:\n    secretName: s\n    key: k\n", "secretEnv.SHP_X: SHP_X is set in env too"},
		{"variable in env and extraEnv", repo + "env:\n  SHP_X: a\nextraEnv:\n  - name: SHP_X\n    value: b\n", "extraEnv: SHP_X is set in env too"},
		{"proxy without an instance", repo + "cloudSqlProxy:\n  enabled: true\n", "cloudSqlProxy.instanceConnectionName"},
		{"existing service account without a name", repo + "serviceAccount:\n  create: false\n", "serviceAccount.name"},
		{"project files with one key", repo + "projectFiles:\n  a/b.yaml: one\n  a__b.yaml: two\n", "make the same ConfigMap key a__b.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderChart(ch, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("values\n%s\nrendered with error %v; want one containing %q", tt.values, err, tt.want)
			}
		})
	}
}

// TestHelmSecretPatternMatchesRules checks that the schema's pattern of
// secret-looking names (which refuses them in env) agrees with
// envSecretName (which refuses literal values in the rendered manifests).
func TestHelmSecretPatternMatchesRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(helmChartDir(t), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	re, err := regexp.Compile(schema.Defs["secretLikeName"].Pattern)
	if err != nil || schema.Defs["secretLikeName"].Pattern == "" {
		t.Fatalf("values.schema.json: $defs.secretLikeName.pattern %q: %v", schema.Defs["secretLikeName"].Pattern, err)
	}
	for _, name := range []string{
		"SHP_METADATA_DSN", "TEAMS_WEBHOOK_URL", "DB_PASSWORD", "PGPASSWD", "API_KEY", "APIKEY", "GITHUB_TOKEN",
		"client_secret", "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "SHP_SECRETS",
		"GOOGLE_CLOUD_PROJECT", "SHP_LANDING_BUCKET", "SHP_BQ_LOCATION", "SHP_EVENTS_SUBSCRIPTION", "MONKEY", "KEYRING_NAME", "TOKENIZER",
	} {
		if got, want := re.MatchString(name), envSecretName(name); got != want {
			t.Errorf("%s: the schema's secretLikeName says %v, envSecretName %v", name, got, want)
		}
	}
}

// TestHelmRulesCatchBadManifests breaks each rule in a manifest that keeps
// them all, so that no rule can pass by checking nothing.
func TestHelmRulesCatchBadManifests(t *testing.T) {
	ch := loadHelmChart(t)
	rules := helmRules(healthRoutes(t))
	// Every object the chart can render.
	const values = `image:
  repository: ` + testImage + `
serviceAccount:
  gcpServiceAccount: shp-runtime@my-project-123.iam.gserviceaccount.com
ingress:
  enabled: true
cloudSqlProxy:
  enabled: true
  instanceConnectionName: my-project-123:europe-west1:shp-metadata
projectFiles:
  config.yaml: "project: gcp\n"
secretEnv:
  SHP_METADATA_DSN:
    secretName: shp
    key: metadata-dsn
`
	good := func() *renderedChart { return mustRender(t, ch, values) }
	pod := func(r *renderedChart) *corev1.PodSpec { return &r.deployments[0].Spec.Template.Spec }
	shp := func(r *renderedChart) *corev1.Container { return shpContainer(r.deployments[0]) }
	bad := map[string]func(r *renderedChart){
		"labels": func(r *renderedChart) { delete(r.services[0].Labels, "app.kubernetes.io/managed-by") },
		"resources": func(r *renderedChart) {
			delete(pod(r).InitContainers[0].Resources.Limits, corev1.ResourceMemory)
		},
		"security-context": func(r *renderedChart) {
			off := false
			shp(r).SecurityContext.ReadOnlyRootFilesystem = &off
		},
		"writable-paths": func(r *renderedChart) {
			c := shp(r)
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" })
		},
		"probes": func(r *renderedChart) { shp(r).LivenessProbe.HTTPGet.Path = "/health" },
		"image-pinned": func(r *renderedChart) {
			pod(r).InitContainers[0].Image = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:latest"
		},
		"no-literal-secrets": func(r *renderedChart) {
			c := shp(r)
			c.Env = append(c.Env, corev1.EnvVar{Name: "DB_PASSWORD", Value: "hunter2"})
		},
		"http-port": func(r *renderedChart) { shp(r).Ports[0].Name = "web" },
		"grace-fits": func(r *renderedChart) {
			s := int64(20)
			pod(r).TerminationGracePeriodSeconds = &s
		},
		"one-alerting-replica": func(r *renderedChart) {
			n := int32(2)
			r.deployments[0].Spec.Replicas = &n
		},
		"service-selects-pods": func(r *renderedChart) {
			r.services[0].Spec.Selector["app.kubernetes.io/instance"] = "other"
		},
		"podmonitoring-targets-port": func(r *renderedChart) {
			r.podMonitorings[0].Spec.Endpoints[0].Port = intstr.FromString("metrics")
		},
		"ingress-backend": func(r *renderedChart) {
			r.ingresses[0].Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "https"
		},
		"pdb-selects-pods": func(r *renderedChart) {
			one := intstr.FromInt32(1)
			r.pdbs[0].Spec.MaxUnavailable, r.pdbs[0].Spec.MinAvailable = nil, &one
		},
		"service-account": func(r *renderedChart) { pod(r).ServiceAccountName = "default" },
	}
	if len(bad) != len(rules) {
		t.Fatalf("%d broken manifests for %d rules", len(bad), len(rules))
	}
	g := good()
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) {
			if p := rule.check(g); len(p) > 0 {
				t.Fatalf("the good manifests break %s: %q", rule.name, p)
			}
			breakIt, ok := bad[rule.name]
			if !ok {
				t.Fatalf("no broken manifest for %s", rule.name)
			}
			r := good()
			breakIt(r)
			if p := rule.check(r); len(p) == 0 {
				t.Errorf("%s passes a manifest that breaks it", rule.name)
			} else {
				t.Logf("%s: %q", rule.name, p)
			}
		})
	}
}
