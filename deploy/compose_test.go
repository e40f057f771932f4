package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/jobplane/jobplane/pkg/queue"
)

const repoRoot = ".."

// loadCompose loads docker-compose.yml as `docker compose` would, with no
// variable from the environment (so the defaults apply) and the given
// profiles enabled.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("jobplane", true)
		o.Profiles = profiles
	})
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

// envOf returns a service's environment with every variable resolved.
func envOf(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	out := make(map[string]string, len(s.Environment))
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("%s: %s has no value", s.Name, k)
			continue
		}
		out[k] = *v
	}
	return out
}

func servicesWithImage(p *types.Project, prefix string) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, s := range p.Services {
		if strings.HasPrefix(s.Image, prefix) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b types.ServiceConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func numbered(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// published returns the host port that publishes container port target.
func published(s types.ServiceConfig, target uint32) string {
	for _, p := range s.Ports {
		if p.Target == target {
			return p.Published
		}
	}
	return ""
}

func addrPort(t *testing.T, where, addr string) uint32 {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	n, err := strconv.ParseUint(addr[i+1:], 10, 16)
	if i < 0 || err != nil {
		t.Fatalf("%s: %q has no port", where, addr)
	}
	return uint32(n)
}

func dependsOn(t *testing.T, s types.ServiceConfig, dep, condition string) {
	t.Helper()
	d, ok := s.DependsOn[dep]
	if !ok {
		t.Errorf("%s: does not depend on %s", s.Name, dep)
		return
	}
	if d.Condition != condition {
		t.Errorf("%s: depends on %s with %q, want %q", s.Name, dep, d.Condition, condition)
	}
}

func TestComposeTopology(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)

	want := slices.Concat(numbered("kafka", 3), []string{"kafka-init", "mongo-keyfile"}, numbered("mongo", 3),
		[]string{"mongo-init"}, numbered("client", 3), numbered("server", 3), []string{"prometheus", "jaeger"})
	slices.Sort(want)
	got := p.ServiceNames()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("services = %q, want %q", got, want)
	}
	// Grafana is optional, behind a profile.
	if _, ok := p.DisabledServices["grafana"]; !ok {
		t.Error("grafana should be disabled without --profile grafana")
	}
	withGrafana := loadCompose(t, "grafana")
	g, err := withGrafana.GetService("grafana")
	if err != nil {
		t.Fatalf("grafana with --profile grafana: %v", err)
	}
	if !strings.HasPrefix(g.Image, "grafana/grafana:") || published(g, 3000) != "3000" {
		t.Errorf("grafana: image %q, port 3000 published as %q", g.Image, published(g, 3000))
	}

	for _, tc := range []struct{ service, image string }{
		{"prometheus", "prom/prometheus:"}, {"jaeger", "jaegertracing/jaeger:2."},
		{"kafka-init", "apache/kafka:"}, {"mongo-init", "mongo:"}, {"mongo-keyfile", "mongo:"},
	} {
		s, err := p.GetService(tc.service)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.Image, tc.image) {
			t.Errorf("%s: image %q, want %s*", tc.service, s.Image, tc.image)
		}
	}
	for _, tc := range []struct {
		prefix, image string
		n             int
	}{{"kafka", "apache/kafka:", 3}, {"mongo", "mongo:", 3}, {"client", "jobplane/client:", 3}, {"server", "jobplane/server:", 3}} {
		var nodes []string
		for _, s := range servicesWithImage(p, tc.image) {
			if s.Restart != "no" {
				nodes = append(nodes, s.Name)
			}
		}
		if !slices.Equal(nodes, numbered(tc.prefix, tc.n)) {
			t.Errorf("long-running %s services = %q, want %q", tc.image, nodes, numbered(tc.prefix, tc.n))
		}
	}

	// Ports published on the host.
	for _, tc := range []struct {
		service string
		target  uint32
		host    string
	}{
		{"prometheus", 9090, "9090"}, {"jaeger", 16686, "16686"}, {"jaeger", 4317, "4317"}, {"jaeger", 4318, "4318"},
	} {
		s, _ := p.GetService(tc.service)
		if got := published(s, tc.target); got != tc.host {
			t.Errorf("%s: port %d published as %q, want %q", tc.service, tc.target, got, tc.host)
		}
	}
}

func TestComposeKafka(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	brokers := servicesWithImage(p, "apache/kafka:")
	var voters []string
	clusterIDs := map[string]bool{}
	nodeIDs := map[string]bool{}
	for _, s := range brokers {
		if s.Name == "kafka-init" {
			continue
		}
		e := envOf(t, s)
		for k, want := range map[string]string{
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_NUM_PARTITIONS":                           "60",
			"KAFKA_DEFAULT_REPLICATION_FACTOR":               "3",
			"KAFKA_MIN_INSYNC_REPLICAS":                      "2",
			"KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE":           "false",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "3",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "2",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_INTER_BROKER_LISTENER_NAME":               "PLAINTEXT",
		} {
			if e[k] != want {
				t.Errorf("%s: %s=%q, want %q", s.Name, k, e[k], want)
			}
		}
		id := e["KAFKA_NODE_ID"]
		nodeIDs[id] = true
		voters = append(voters, id+"@"+s.Name+":9093")
		clusterIDs[e["CLUSTER_ID"]] = true
		if !strings.Contains(e["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://"+s.Name+":9092") {
			t.Errorf("%s: KAFKA_ADVERTISED_LISTENERS=%q does not advertise PLAINTEXT://%s:9092", s.Name, e["KAFKA_ADVERTISED_LISTENERS"], s.Name)
		}
		if !strings.Contains(e["KAFKA_LISTENERS"], "CONTROLLER://:9093") {
			t.Errorf("%s: KAFKA_LISTENERS=%q has no CONTROLLER://:9093", s.Name, e["KAFKA_LISTENERS"])
		}
		if !hasVolumeAt(s, e["KAFKA_LOG_DIRS"], types.VolumeTypeVolume) {
			t.Errorf("%s: no named volume at KAFKA_LOG_DIRS=%q", s.Name, e["KAFKA_LOG_DIRS"])
		}
		checkHealthcheck(t, s)
	}
	if len(nodeIDs) != 3 || len(clusterIDs) != 1 || clusterIDs[""] {
		t.Errorf("node ids %v, cluster ids %v: want 3 distinct node ids and one cluster id", nodeIDs, clusterIDs)
	}
	slices.Sort(voters)
	for _, s := range brokers {
		if s.Name == "kafka-init" {
			continue
		}
		got := strings.Split(envOf(t, s)["KAFKA_CONTROLLER_QUORUM_VOTERS"], ",")
		slices.Sort(got)
		if !slices.Equal(got, voters) {
			t.Errorf("%s: KAFKA_CONTROLLER_QUORUM_VOTERS = %q, want %q", s.Name, got, voters)
		}
	}

	// kafka-init creates the services' topics explicitly.
	ki, _ := p.GetService("kafka-init")
	e := envOf(t, ki)
	wantTopics := []string{queue.RequestTopic, queue.ResponseTopic, queue.DLQTopic}
	if got := strings.Fields(e["TOPICS"]); !slices.Equal(got, wantTopics) {
		t.Errorf("kafka-init TOPICS = %q, want %q", got, wantTopics)
	}
	for k, want := range map[string]string{"PARTITIONS": "60", "REPLICATION_FACTOR": "3", "MIN_INSYNC_REPLICAS": "2",
		"BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092,kafka-3:9092"} {
		if e[k] != want {
			t.Errorf("kafka-init %s=%q, want %q", k, e[k], want)
		}
	}
	for _, b := range numbered("kafka", 3) {
		dependsOn(t, ki, b, types.ServiceConditionHealthy)
	}
	checkMountedScript(t, ki)
}

func TestComposeMongo(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	keyfileVolume := ""
	if kf, err := p.GetService("mongo-keyfile"); err == nil {
		checkMountedScript(t, kf)
		for _, v := range kf.Volumes {
			if v.Type == types.VolumeTypeVolume {
				keyfileVolume = v.Source
			}
		}
	}
	if keyfileVolume == "" {
		t.Fatal("mongo-keyfile: no named volume for the keyfile")
	}
	var members []string
	for _, name := range numbered("mongo", 3) {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, name+":27017")
		cmd := []string(s.Command)
		if i := slices.Index(cmd, "--replSet"); i < 0 || i+1 >= len(cmd) || cmd[i+1] != "rs0" {
			t.Errorf("%s: command %q, want --replSet rs0", name, cmd)
		}
		i := slices.Index(cmd, "--keyFile")
		if i < 0 || i+1 >= len(cmd) {
			t.Errorf("%s: command %q has no --keyFile", name, cmd)
		} else {
			mounted := false
			for _, v := range s.Volumes {
				if v.Source == keyfileVolume && v.ReadOnly && strings.HasPrefix(cmd[i+1], v.Target+"/") {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("%s: --keyFile %s is not in a read-only mount of volume %s", name, cmd[i+1], keyfileVolume)
			}
		}
		if !hasVolumeAt(s, "/data/db", types.VolumeTypeVolume) {
			t.Errorf("%s: no named volume at /data/db", name)
		}
		dependsOn(t, s, "mongo-keyfile", types.ServiceConditionCompletedSuccessfully)
		checkHealthcheck(t, s)
		// Only the first member creates the root user: rs.initiate wants the
		// other members empty.
		_, hasRoot := s.Environment["MONGO_INITDB_ROOT_USERNAME"]
		if hasRoot != (name == "mongo-1") {
			t.Errorf("%s: MONGO_INITDB_ROOT_USERNAME set = %v, want only on mongo-1", name, hasRoot)
		}
	}

	mi, _ := p.GetService("mongo-init")
	e := envOf(t, mi)
	if e["REPLICA_SET"] != "rs0" || e["MEMBERS"] != strings.Join(members, ",") {
		t.Errorf("mongo-init REPLICA_SET=%q MEMBERS=%q, want rs0 and %s", e["REPLICA_SET"], e["MEMBERS"], strings.Join(members, ","))
	}
	m1, _ := p.GetService("mongo-1")
	root := envOf(t, m1)
	if e["ROOT_USERNAME"] != root["MONGO_INITDB_ROOT_USERNAME"] || e["ROOT_PASSWORD"] != root["MONGO_INITDB_ROOT_PASSWORD"] || e["ROOT_PASSWORD"] == "" {
		t.Error("mongo-init ROOT_USERNAME/ROOT_PASSWORD differ from mongo-1's MONGO_INITDB_ROOT_USERNAME/PASSWORD")
	}
	for _, m := range numbered("mongo", 3) {
		dependsOn(t, mi, m, types.ServiceConditionHealthy)
	}
	checkMountedScript(t, mi)

	// The services' URI names the replica set, its members and the user
	// mongo-init creates.
	for _, c := range servicesWithImage(p, "jobplane/client:") {
		ce := envOf(t, c)
		u := checkMongoURI(t, c.Name, ce["MONGODB_URI"])
		if got := u.Query().Get("replicaSet"); got != e["REPLICA_SET"] {
			t.Errorf("%s: MONGODB_URI replicaSet=%q, want %q", c.Name, got, e["REPLICA_SET"])
		}
		if got := uriHosts(u); !slices.Equal(got, members) {
			t.Errorf("%s: MONGODB_URI hosts %q, want %q", c.Name, got, members)
		}
		pw, _ := u.User.Password()
		if u.User.Username() != e["APP_USERNAME"] || pw != e["APP_PASSWORD"] {
			t.Errorf("%s: MONGODB_URI user differs from mongo-init's APP_USERNAME/APP_PASSWORD", c.Name)
		}
		if ce["MONGODB_DATABASE"] != e["APP_DATABASE"] {
			t.Errorf("%s: MONGODB_DATABASE=%q, mongo-init grants %q", c.Name, ce["MONGODB_DATABASE"], e["APP_DATABASE"])
		}
	}
}

func TestComposeServices(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	ki, _ := p.GetService("kafka-init")
	kiEnv := envOf(t, ki)
	var kafkaNodes []string
	for _, n := range numbered("kafka", 3) {
		kafkaNodes = append(kafkaNodes, n+":9092")
	}

	for _, kind := range serviceKinds {
		ss := servicesWithImage(p, "jobplane/"+kind.name+":")
		if len(ss) != 3 {
			t.Fatalf("%d %s services, want 3", len(ss), kind.name)
		}
		for i, s := range ss {
			e := envOf(t, s)
			checkServiceEnv(t, "compose", s.Name, kind, e)

			if s.Build == nil || s.Build.Target != kind.name {
				t.Errorf("%s: want build with target %q (Dockerfile)", s.Name, kind.name)
			}
			if e["NODE_ID"] != s.Name {
				t.Errorf("%s: NODE_ID=%q, want the service name", s.Name, e["NODE_ID"])
			}
			if e["OTEL_SERVICE_NAME"] != "jobplane-"+kind.name {
				t.Errorf("%s: OTEL_SERVICE_NAME=%q, want jobplane-%s", s.Name, e["OTEL_SERVICE_NAME"], kind.name)
			}
			if e["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger:4317" {
				t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q, want http://jaeger:4317", s.Name, e["OTEL_EXPORTER_OTLP_ENDPOINT"])
			}
			if got := strings.Split(e["KAFKA_BROKERS"], ","); !slices.Equal(got, kafkaNodes) {
				t.Errorf("%s: KAFKA_BROKERS=%q, want %q", s.Name, got, kafkaNodes)
			}
			for k, want := range map[string]string{
				"KAFKA_REQUEST_TOPIC": queue.RequestTopic, "KAFKA_RESPONSE_TOPIC": queue.ResponseTopic,
				"KAFKA_DLQ_TOPIC": queue.DLQTopic, "KAFKA_PARTITIONS": kiEnv["PARTITIONS"],
				"KAFKA_REPLICATION_FACTOR": kiEnv["REPLICATION_FACTOR"],
			} {
				if e[k] != want {
					t.Errorf("%s: %s=%q, want %q (kafka-init)", s.Name, k, e[k], want)
				}
			}
			dependsOn(t, s, "kafka-init", types.ServiceConditionCompletedSuccessfully)
			checkHealthcheck(t, s)

			// Host ports: client-i REST 8080+i-1, gRPC 50051+i-1; server-i
			// admin 8090+i-1. The health check probes the port the service
			// listens on.
			var ports map[string]uint32 // env var -> first host port
			switch kind.name {
			case "client":
				ports = map[string]uint32{"HTTP_ADDR": 8080, "GRPC_ADDR": 50051}
				dependsOn(t, s, "mongo-init", types.ServiceConditionCompletedSuccessfully)
				checkMongoURI(t, s.Name, e["MONGODB_URI"])
			case "server":
				ports = map[string]uint32{"ADMIN_ADDR": 8090}
			}
			for v, first := range ports {
				target := addrPort(t, s.Name+" "+v, e[v])
				if got, want := published(s, target), strconv.Itoa(int(first)+i); got != want {
					t.Errorf("%s: %s port %d published as %q, want %s", s.Name, v, target, got, want)
				}
			}
			probe := "HTTP_ADDR"
			if kind.name == "server" {
				probe = "ADMIN_ADDR"
			}
			wantURL := fmt.Sprintf("http://127.0.0.1:%d/readyz", addrPort(t, s.Name, e[probe]))
			if s.HealthCheck == nil || !slices.Contains(s.HealthCheck.Test, wantURL) {
				t.Errorf("%s: health check should probe %s", s.Name, wantURL)
			}
		}
	}
}

// TestComposeWait checks what `docker compose up --wait` needs to return 0
// once the platform is usable: every long-running service has a health check
// (Jaeger aside) and every one-shot init service is awaited by a long-running
// one with service_completed_successfully, else --wait reports its exit as a
// failure (docker/compose#10596).
func TestComposeWait(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "grafana")
	awaited := map[string]bool{}
	for _, s := range p.Services {
		for dep, d := range s.DependsOn {
			ds, err := p.GetService(dep)
			if err != nil {
				t.Errorf("%s: depends on unknown service %s", s.Name, dep)
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if ds.HealthCheck == nil || ds.HealthCheck.Disable {
					t.Errorf("%s: waits for %s to be healthy, which has no health check", s.Name, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if ds.Restart != "no" {
					t.Errorf("%s: waits for %s to complete, which restarts (%q)", s.Name, dep, ds.Restart)
				}
				if s.Restart != "no" {
					awaited[dep] = true
				}
			}
		}
	}
	for _, s := range p.Services {
		if s.Restart == "no" {
			if !awaited[s.Name] {
				t.Errorf("one-shot %s: no long-running service depends on it with service_completed_successfully", s.Name)
			}
			continue
		}
		if s.Restart != "unless-stopped" {
			t.Errorf("%s: restart %q, want unless-stopped", s.Name, s.Restart)
		}
		if s.Name != "jaeger" {
			checkHealthcheck(t, s)
		}
	}
}

func TestPrometheusConfig(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	readYAML(t, filepath.Join(repoRoot, "deploy/prometheus/prometheus.yml"), &cfg)
	got := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s: metrics_path %q", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			got[sc.JobName] = append(got[sc.JobName], st.Targets...)
		}
	}
	for kind, portVar := range map[string]string{"client": "HTTP_ADDR", "server": "ADMIN_ADDR"} {
		var want []string
		for _, s := range servicesWithImage(p, "jobplane/"+kind+":") {
			want = append(want, fmt.Sprintf("%s:%d", s.Name, addrPort(t, s.Name, envOf(t, s)[portVar])))
		}
		job := "jobplane-" + kind
		slices.Sort(got[job])
		if !slices.Equal(got[job], want) {
			t.Errorf("prometheus job %s targets %q, want %q", job, got[job], want)
		}
	}
	prom, _ := p.GetService("prometheus")
	checkMounted(t, prom, "deploy/prometheus/prometheus.yml")
}

func hasVolumeAt(s types.ServiceConfig, target, typ string) bool {
	for _, v := range s.Volumes {
		if v.Target == target && v.Type == typ {
			return true
		}
	}
	return false
}

func checkHealthcheck(t *testing.T, s types.ServiceConfig) {
	t.Helper()
	h := s.HealthCheck
	if h == nil || h.Disable || len(h.Test) < 2 || h.Interval == nil || h.Timeout == nil || h.Retries == nil {
		t.Errorf("%s: want a health check with test, interval, timeout and retries", s.Name)
	}
}

// checkMountedScript checks that the script or file an init service runs
// (the last element of its entrypoint) comes from a bind mount of a
// directory of this repository that holds it.
func checkMountedScript(t *testing.T, s types.ServiceConfig) {
	t.Helper()
	if len(s.Entrypoint) == 0 {
		t.Errorf("%s: no entrypoint", s.Name)
		return
	}
	script := s.Entrypoint[len(s.Entrypoint)-1]
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasPrefix(script, v.Target+"/") {
			if !v.ReadOnly {
				t.Errorf("%s: mount %s should be read-only", s.Name, v.Target)
			}
			host := filepath.Join(v.Source, strings.TrimPrefix(script, v.Target+"/"))
			if _, err := os.Stat(host); err != nil {
				t.Errorf("%s: runs %s: %v", s.Name, script, err)
			}
			return
		}
	}
	t.Errorf("%s: runs %s, which no bind mount provides", s.Name, script)
}

// checkMounted checks that s bind-mounts the repository file rel.
func checkMounted(t *testing.T, s types.ServiceConfig, rel string) {
	t.Helper()
	abs, _ := filepath.Abs(filepath.Join(repoRoot, rel))
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == abs {
			if _, err := os.Stat(abs); err != nil {
				t.Error(err)
			}
			return
		}
	}
	t.Errorf("%s: does not mount %s", s.Name, rel)
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := kyaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
