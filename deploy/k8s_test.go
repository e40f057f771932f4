package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// crdKinds are the custom resources deploy/k8s may use; they are decoded as
// unstructured objects and their key fields checked below.
var crdKinds = map[schema.GroupVersionKind]bool{
	{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}:                    true,
	{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}:           true,
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}:          true,
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "Kafka"}:                   true,
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaNodePool"}:           true,
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaTopic"}:              true,
	{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaUser"}:               true,
	{Group: "mongodbcommunity.mongodb.com", Version: "v1", Kind: "MongoDBCommunity"}: true,
	{Group: "kustomize.config.k8s.io", Version: "v1beta1", Kind: "Kustomization"}:    true,
}

// manifests holds every object of a kustomization directory.
type manifests struct {
	typed        []runtime.Object
	unstructured []*unstructured.Unstructured
}

// decodeDir decodes every YAML document of the files a kustomization.yaml
// lists, built-in kinds strictly (an unknown or misplaced field fails) with
// the Kubernetes API types, custom resources as unstructured objects. It also
// checks that kustomization.yaml lists exactly the YAML files of dir.
func decodeDir(t *testing.T, dir string) *manifests {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

	var kust struct {
		Resources []string `json:"resources"`
	}
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &kust)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Clone(kust.Resources)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s/kustomization.yaml resources = %q, want every YAML file of the directory %q", dir, got, want)
	}

	m := &manifests{}
	for _, name := range append([]string{"kustomization.yaml"}, kust.Resources...) {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			var obj map[string]any
			if err := kyaml.Unmarshal(doc, &obj); err != nil {
				t.Fatalf("%s document %d: %v", path, i, err)
			}
			if obj == nil { // comments only
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			gvk := u.GroupVersionKind()
			where := fmt.Sprintf("%s: %s %s", path, gvk.Kind, u.GetName())
			switch {
			case scheme.Recognizes(gvk):
				typed, _, err := dec.Decode(doc, nil, nil)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				m.typed = append(m.typed, typed)
			case crdKinds[gvk]:
				m.unstructured = append(m.unstructured, u)
			default:
				t.Errorf("%s: unknown kind %s", path, gvk)
				continue
			}
			if u.GetName() == "" && gvk.Kind != "Kustomization" {
				t.Errorf("%s: no metadata.name", where)
			}
			if ns := u.GetNamespace(); ns != "" {
				t.Errorf("%s: namespace %q: leave it to kustomization.yaml", where, ns)
			}
		}
	}
	return m
}

func typedOf[T runtime.Object](m *manifests) []T {
	var out []T
	for _, o := range m.typed {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func typedNamed[T interface {
	runtime.Object
	GetName() string
}](t *testing.T, m *manifests, name string) T {
	t.Helper()
	for _, o := range typedOf[T](m) {
		if o.GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T named %s", zero, name)
	return zero
}

func crd(t *testing.T, m *manifests, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range m.unstructured {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("no %s named %s", kind, name)
	return nil
}

func str(t *testing.T, u *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if !ok || err != nil {
		t.Errorf("%s %s: no %s", u.GetKind(), u.GetName(), strings.Join(fields, "."))
		return ""
	}
	return fmt.Sprint(v)
}

// containerEnv resolves the environment of a container as the kubelet would:
// envFrom ConfigMaps and Secrets, then env (values, ConfigMap and Secret keys;
// field references get a stand-in value). Every reference must resolve to an
// object of the manifests.
func containerEnv(t *testing.T, m *manifests, where string, c corev1.Container) map[string]string {
	t.Helper()
	configMaps := map[string]map[string]string{}
	for _, cm := range typedOf[*corev1.ConfigMap](m) {
		configMaps[cm.Name] = cm.Data
	}
	secrets := map[string]map[string]string{}
	for _, s := range typedOf[*corev1.Secret](m) {
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		for k, v := range s.StringData {
			data[k] = v
		}
		secrets[s.Name] = data
	}
	out := map[string]string{}
	set := func(k, v, from string) {
		if _, dup := out[k]; dup {
			t.Errorf("%s: %s set twice (again from %s)", where, k, from)
		}
		out[k] = v
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			data, ok := configMaps[ef.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom ConfigMap %s is not in the manifests", where, ef.ConfigMapRef.Name)
			}
			for k, v := range data {
				set(k, v, "ConfigMap "+ef.ConfigMapRef.Name)
			}
		case ef.SecretRef != nil:
			data, ok := secrets[ef.SecretRef.Name]
			if !ok {
				t.Errorf("%s: envFrom Secret %s is not in the manifests", where, ef.SecretRef.Name)
			}
			for k, v := range data {
				set(k, v, "Secret "+ef.SecretRef.Name)
			}
		}
	}
	for _, e := range c.Env {
		switch vf := e.ValueFrom; {
		case vf == nil:
			set(e.Name, e.Value, "env")
		case vf.FieldRef != nil:
			set(e.Name, "fieldref-"+vf.FieldRef.FieldPath, "env")
		case vf.ConfigMapKeyRef != nil:
			v, ok := configMaps[vf.ConfigMapKeyRef.Name][vf.ConfigMapKeyRef.Key]
			if !ok {
				t.Errorf("%s: %s: ConfigMap key %s/%s is not in the manifests", where, e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key)
			}
			set(e.Name, v, "env")
		case vf.SecretKeyRef != nil:
			v, ok := secrets[vf.SecretKeyRef.Name][vf.SecretKeyRef.Key]
			if !ok {
				t.Errorf("%s: %s: Secret key %s/%s is not in the manifests", where, e.Name, vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
			}
			set(e.Name, v, "env")
		default:
			t.Errorf("%s: %s: unsupported valueFrom", where, e.Name)
		}
	}
	return out
}

func containerPort(t *testing.T, where string, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Errorf("%s: no container port named %q", where, p.StrVal)
	return 0
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	m := decodeDir(t, filepath.Join(repoRoot, "deploy/k8s"))
	ex := decodeDir(t, filepath.Join(repoRoot, "deploy/k8s/examples"))
	common := typedNamed[*corev1.ConfigMap](t, m, "jobplane-common").Data

	// The Strimzi example: bootstrap service <cluster>-kafka-bootstrap on the
	// port of its TLS listener with SCRAM-SHA-512.
	kafka := crd(t, ex, "Kafka", "jobplane")
	listeners, _, _ := unstructured.NestedSlice(kafka.Object, "spec", "kafka", "listeners")
	var bootstrap string
	for _, l := range listeners {
		l := l.(map[string]any)
		auth, _ := l["authentication"].(map[string]any)
		if l["tls"] == true && auth["type"] == "scram-sha-512" {
			bootstrap = fmt.Sprintf("%s-kafka-bootstrap:%v", kafka.GetName(), l["port"])
		}
	}
	if bootstrap == "" {
		t.Error("Strimzi Kafka: no TLS listener with scram-sha-512")
	}
	kcfg, _, _ := unstructured.NestedMap(kafka.Object, "spec", "kafka", "config")
	for k, want := range map[string]string{"num.partitions": "60", "default.replication.factor": "3", "min.insync.replicas": "2",
		"unclean.leader.election.enable": "false", "auto.create.topics.enable": "false", "offsets.topic.replication.factor": "3"} {
		if got := fmt.Sprint(kcfg[k]); got != want {
			t.Errorf("Strimzi Kafka config %s = %s, want %s", k, got, want)
		}
	}
	if got := str(t, crd(t, ex, "KafkaNodePool", "combined"), "spec", "replicas"); got != "3" {
		t.Errorf("KafkaNodePool replicas = %s, want 3", got)
	}
	for _, topic := range strings.Fields("KAFKA_REQUEST_TOPIC KAFKA_RESPONSE_TOPIC KAFKA_DLQ_TOPIC") {
		kt := crd(t, ex, "KafkaTopic", common[topic])
		if got := str(t, kt, "spec", "partitions"); got != common["KAFKA_PARTITIONS"] {
			t.Errorf("KafkaTopic %s partitions %s, KAFKA_PARTITIONS %s", kt.GetName(), got, common["KAFKA_PARTITIONS"])
		}
		if str(t, kt, "spec", "replicas") != "3" || str(t, kt, "spec", "config", "min.insync.replicas") != "2" {
			t.Errorf("KafkaTopic %s: want replicas 3, min.insync.replicas 2", kt.GetName())
		}
	}
	if common["KAFKA_BROKERS"] != bootstrap || common["KAFKA_TLS"] != "true" || common["KAFKA_SASL_MECHANISM"] != "SCRAM-SHA-512" {
		t.Errorf("KAFKA_BROKERS=%q KAFKA_TLS=%q KAFKA_SASL_MECHANISM=%q, want %q, true, SCRAM-SHA-512 (the Strimzi example)",
			common["KAFKA_BROKERS"], common["KAFKA_TLS"], common["KAFKA_SASL_MECHANISM"], bootstrap)
	}
	kafkaUser := crd(t, ex, "KafkaUser", typedNamed[*corev1.Secret](t, m, "jobplane-kafka").StringData["KAFKA_SASL_USERNAME"])
	if str(t, kafkaUser, "spec", "authentication", "type") != "scram-sha-512" {
		t.Error("KafkaUser: want scram-sha-512")
	}

	// The MongoDB community example: replica set <name>, members
	// <name>-i.<name>-svc, the user jobplane with readWrite.
	mdb := crd(t, ex, "MongoDBCommunity", "jobplane-mongodb")
	members, _ := strconv.Atoi(str(t, mdb, "spec", "members"))
	if members != 3 || str(t, mdb, "spec", "type") != "ReplicaSet" {
		t.Errorf("MongoDBCommunity: want a 3-member ReplicaSet")
	}
	var mongoHosts []string
	for i := range members {
		mongoHosts = append(mongoHosts, fmt.Sprintf("%s-%d.%s-svc:27017", mdb.GetName(), i, mdb.GetName()))
	}
	users, _, _ := unstructured.NestedSlice(mdb.Object, "spec", "users")

	for _, kind := range serviceKinds {
		name := "jobplane-" + kind.name
		d := typedNamed[*appsv1.Deployment](t, m, name)
		checkDeployment(t, d)
		c := d.Spec.Template.Spec.Containers[0]
		e := containerEnv(t, m, name, c)
		checkServiceEnv(t, "k8s", name, kind, e)
		if e["OTEL_SERVICE_NAME"] != name {
			t.Errorf("%s: OTEL_SERVICE_NAME=%q", name, e["OTEL_SERVICE_NAME"])
		}
		if !strings.HasPrefix(c.Image, "jobplane/"+kind.name+":") {
			t.Errorf("%s: image %q", name, c.Image)
		}
		// KAFKA_TLS_CA is a file of a volume of the cluster CA Secret.
		checkFileFromSecret(t, d, e["KAFKA_TLS_CA"], kafka.GetName()+"-cluster-ca-cert")

		switch kind.name {
		case "client":
			grpcPort := int32(addrPort(t, name, e["GRPC_ADDR"]))
			httpPort := int32(addrPort(t, name, e["HTTP_ADDR"]))
			if p := c.ReadinessProbe; p == nil || p.GRPC == nil || p.GRPC.Port != grpcPort {
				t.Errorf("%s: readiness should be the gRPC health check on %d", name, grpcPort)
			}
			if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" ||
				containerPort(t, name, c, p.HTTPGet.Port) != httpPort {
				t.Errorf("%s: liveness should be GET /healthz on %d", name, httpPort)
			}
			checkPorts(t, c, grpcPort, httpPort)
			u := checkMongoURI(t, name, e["MONGODB_URI"])
			if got := u.Query().Get("replicaSet"); got != mdb.GetName() {
				t.Errorf("%s: MONGODB_URI replicaSet=%q, want %q (the MongoDBCommunity)", name, got, mdb.GetName())
			}
			if got := uriHosts(u); !slices.Equal(got, mongoHosts) {
				t.Errorf("%s: MONGODB_URI hosts %q, want %q", name, got, mongoHosts)
			}
			if !hasMongoUser(users, u.User.Username(), e["MONGODB_DATABASE"]) {
				t.Errorf("%s: MongoDBCommunity has no user %s with readWrite on %s", name, u.User.Username(), e["MONGODB_DATABASE"])
			}
			hpa := typedNamed[*autoscalingv2.HorizontalPodAutoscaler](t, m, name)
			if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != name ||
				hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
				t.Errorf("%s: HPA should scale the Deployment from at least 2 replicas", name)
			}
		case "server":
			adminPort := int32(addrPort(t, name, e["ADMIN_ADDR"]))
			for probe, p := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != probe || containerPort(t, name, c, p.HTTPGet.Port) != adminPort {
					t.Errorf("%s: want probe GET %s on the admin port %d", name, probe, adminPort)
				}
			}
			checkPorts(t, c, adminPort, int32(addrPort(t, name, e["GRPC_ADDR"])))
			checkScaledObject(t, m, name, e, bootstrap, kafka.GetName())
		}
		if c.StartupProbe == nil {
			t.Errorf("%s: no startup probe", name)
		}
		checkServiceAndMonitor(t, m, d, c)
		pdb := typedNamed[*policyv1.PodDisruptionBudget](t, m, name)
		if sel, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); sel == nil || !sel.Matches(labelsOf(d.Spec.Template.Labels)) {
			t.Errorf("%s: the PodDisruptionBudget does not select the pods", name)
		}
		if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
			t.Errorf("%s: the PodDisruptionBudget sets no bound", name)
		}
	}
}

func checkDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labelsOf(d.Spec.Template.Labels)) {
		t.Errorf("%s: the selector does not match the pod labels", d.Name)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("%s: want at least 2 replicas", d.Name)
	}
	ps := d.Spec.Template.Spec
	if len(ps.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", d.Name, len(ps.Containers))
	}
	c := ps.Containers[0]
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: want runAsNonRoot", d.Name)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: want a read-only root filesystem and no privilege escalation", d.Name)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: want CPU requests and a memory limit", d.Name)
	}
	// The grace period covers SHUTDOWN_TIMEOUT.
	if g := ps.TerminationGracePeriodSeconds; g == nil || *g < 30 {
		t.Errorf("%s: terminationGracePeriodSeconds should exceed SHUTDOWN_TIMEOUT (15s) with margin", d.Name)
	}
}

func checkPorts(t *testing.T, c corev1.Container, want ...int32) {
	t.Helper()
	var got []int32
	for _, p := range c.Ports {
		got = append(got, p.ContainerPort)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("container %s: ports %v, want %v (from its *_ADDR variables)", c.Name, got, want)
	}
}

func checkFileFromSecret(t *testing.T, d *appsv1.Deployment, file, secret string) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	for _, vm := range c.VolumeMounts {
		if !strings.HasPrefix(file, vm.MountPath+"/") {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == secret {
				key := strings.TrimPrefix(file, vm.MountPath+"/")
				for _, it := range v.Secret.Items {
					if it.Path == key {
						return
					}
				}
				if len(v.Secret.Items) == 0 {
					return
				}
			}
		}
	}
	t.Errorf("%s: %s is not a file of a volume of Secret %s", d.Name, file, secret)
}

func checkServiceAndMonitor(t *testing.T, m *manifests, d *appsv1.Deployment, c corev1.Container) {
	t.Helper()
	svc := typedNamed[*corev1.Service](t, m, d.Name)
	if !labelsOf(svc.Spec.Selector).AsSelector().Matches(labelsOf(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service %s does not select the pods of %s", svc.Name, d.Name)
	}
	svcPorts := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		containerPort(t, "Service "+svc.Name, c, p.TargetPort)
		svcPorts[p.Name] = true
	}
	sm := crd(t, m, "ServiceMonitor", d.Name)
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if len(sel) == 0 || !labelsOf(sel).AsSelector().Matches(labelsOf(svc.Labels)) {
		t.Errorf("ServiceMonitor %s does not select Service %s", sm.GetName(), svc.Name)
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) == 0 {
		t.Errorf("ServiceMonitor %s: no endpoints", sm.GetName())
	}
	for _, ep := range eps {
		ep := ep.(map[string]any)
		if !svcPorts[fmt.Sprint(ep["port"])] || ep["path"] != "/metrics" {
			t.Errorf("ServiceMonitor %s: endpoint %v should scrape /metrics on a port of Service %s", sm.GetName(), ep, svc.Name)
		}
	}
}

// checkScaledObject checks the KEDA autoscaling of the server: on the lag of
// its own group and topic, on the brokers the services use, and capped at the
// partition count (a member beyond it would own no partition).
func checkScaledObject(t *testing.T, m *manifests, name string, e map[string]string, bootstrap, kafkaCluster string) {
	t.Helper()
	so := crd(t, m, "ScaledObject", name)
	if got := str(t, so, "spec", "scaleTargetRef", "name"); got != name {
		t.Errorf("ScaledObject scales %q, want %s", got, name)
	}
	if got := str(t, so, "spec", "maxReplicaCount"); got != e["KAFKA_PARTITIONS"] {
		t.Errorf("ScaledObject maxReplicaCount = %s, want KAFKA_PARTITIONS = %s", got, e["KAFKA_PARTITIONS"])
	}
	triggers, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	if len(triggers) != 1 {
		t.Fatalf("ScaledObject: %d triggers, want 1", len(triggers))
	}
	tr := triggers[0].(map[string]any)
	md, _ := tr["metadata"].(map[string]any)
	for k, want := range map[string]string{
		"bootstrapServers": e["KAFKA_BROKERS"], "consumerGroup": e["KAFKA_REQUEST_GROUP"], "topic": e["KAFKA_REQUEST_TOPIC"],
		"allowIdleConsumers": "false", "sasl": "scram_sha512", "tls": "enable",
	} {
		if md[k] != want {
			t.Errorf("ScaledObject trigger %s = %v, want %q", k, md[k], want)
		}
	}
	if tr["type"] != "kafka" || e["KAFKA_BROKERS"] != bootstrap {
		t.Errorf("ScaledObject trigger type %v on %q", tr["type"], e["KAFKA_BROKERS"])
	}
	if lag, err := strconv.Atoi(fmt.Sprint(md["lagThreshold"])); err != nil || lag < 1 {
		t.Errorf("ScaledObject lagThreshold %v", md["lagThreshold"])
	}
	authName, _, _ := unstructured.NestedString(tr, "authenticationRef", "name")
	ta := crd(t, m, "TriggerAuthentication", authName)
	refs, _, _ := unstructured.NestedSlice(ta.Object, "spec", "secretTargetRef")
	params := map[string]string{}
	for _, r := range refs {
		r := r.(map[string]any)
		params[fmt.Sprint(r["parameter"])] = fmt.Sprintf("%v/%v", r["name"], r["key"])
	}
	for p, want := range map[string]string{
		"username": "jobplane-kafka/KAFKA_SASL_USERNAME", "password": "jobplane-kafka/KAFKA_SASL_PASSWORD",
		"ca": kafkaCluster + "-cluster-ca-cert/ca.crt",
	} {
		if params[p] != want {
			t.Errorf("TriggerAuthentication %s: %s from %q, want %q", authName, p, params[p], want)
		}
	}
}

func hasMongoUser(users []any, name, db string) bool {
	for _, u := range users {
		u := u.(map[string]any)
		if u["name"] != name || u["db"] != "admin" {
			continue
		}
		roles, _ := u["roles"].([]any)
		for _, r := range roles {
			r := r.(map[string]any)
			if r["name"] == "readWrite" && r["db"] == db {
				return true
			}
		}
	}
	return false
}

// TestKubernetesSecretsArePlaceholders keeps real credentials out of the
// repository: every secret value but the user name is a REPLACE-ME
// placeholder (ENCRYPT_KEY is the base64 of one, to stay valid).
func TestKubernetesSecretsArePlaceholders(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"deploy/k8s", "deploy/k8s/examples"} {
		m := decodeDir(t, filepath.Join(repoRoot, dir))
		for _, s := range typedOf[*corev1.Secret](m) {
			if len(s.Data) > 0 {
				t.Errorf("%s: Secret %s: use stringData placeholders", dir, s.Name)
			}
			for k, v := range s.StringData {
				if k == "KAFKA_SASL_USERNAME" {
					continue
				}
				if k == "ENCRYPT_KEY" {
					v = mustBase64(t, v)
				}
				if !strings.Contains(v, "REPLACE-ME") {
					t.Errorf("%s: Secret %s key %s is not a REPLACE-ME placeholder", dir, s.Name, k)
				}
			}
		}
	}
}

func labelsOf(m map[string]string) labels.Set { return labels.Set(m) }

func mustBase64(t *testing.T, v string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Errorf("%q: not base64: %v", v, err)
	}
	return string(b)
}
