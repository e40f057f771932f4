// Package deploy_test checks the deployment files offline (there is no
// Docker engine nor cluster in CI): docker-compose.yml through the
// compose-spec loader, deploy/k8s through the Kubernetes API types, and that
// every environment variable the services read is set, with a valid value,
// in both.
package deploy_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/services/client"
	"github.com/jobplane/jobplane/services/server"
)

// A kind of jobplane service and how it reads its configuration.
type serviceKind struct {
	name string // "client" or "server"
	read func(r *env.Reader) error
}

var serviceKinds = []serviceKind{
	{"client", func(r *env.Reader) error { _, err := client.ConfigFromReader(r); return err }},
	{"server", func(r *env.Reader) error { _, err := server.ConfigFromReader(r); return err }},
}

// optionalVar is a variable the services read that a deployment may leave
// unset, because the service's default is what that deployment wants.
type optionalVar struct {
	compose, k8s bool   // may be absent from docker-compose.yml / deploy/k8s
	why          string // the reason, for the reader of a failure
}

// optionalVars is the allow-list. Every variable a service reads that is not
// here must be set on every container of that service in docker-compose.yml
// and in deploy/k8s: a new variable makes this test fail until it is wired
// (or added here with its reason).
var optionalVars = map[string]optionalVar{
	// TLS of the services' own listeners (package tlsconfig) is opt-in and
	// needs certificate files: compose is a local plaintext stack, and on
	// Kubernetes TLS is usually terminated by the ingress or a mesh.
	// docs/operations.md shows how to mount a certificate instead.
	"TLS_CERT":      {compose: true, k8s: true, why: "own-listener TLS is opt-in (certificate files)"},
	"TLS_KEY":       {compose: true, k8s: true, why: "own-listener TLS is opt-in (certificate files)"},
	"TLS_CLIENT_CA": {compose: true, k8s: true, why: "mutual TLS is opt-in (certificate files)"},
	// Derived from RATE_LIMIT (twice the rate) when unset; both deployments
	// set RATE_LIMIT.
	"RATE_LIMIT_BURST": {compose: true, k8s: true, why: "derived from RATE_LIMIT when unset"},
	// Client certificates towards Kafka: deploy/k8s authenticates with
	// SCRAM-SHA-512 over TLS instead, and compose's brokers are plaintext.
	"KAFKA_TLS_CERT": {compose: true, k8s: true, why: "Kafka authenticates with SCRAM, not client certificates"},
	"KAFKA_TLS_KEY":  {compose: true, k8s: true, why: "Kafka authenticates with SCRAM, not client certificates"},
	// compose's brokers are a local PLAINTEXT cluster (KAFKA_TLS=false is
	// set explicitly); deploy/k8s sets all of these.
	"KAFKA_TLS_CA":         {compose: true, why: "compose's Kafka is plaintext"},
	"KAFKA_SASL_MECHANISM": {compose: true, why: "compose's Kafka has no SASL"},
	"KAFKA_SASL_USERNAME":  {compose: true, why: "compose's Kafka has no SASL"},
	"KAFKA_SASL_PASSWORD":  {compose: true, why: "compose's Kafka has no SASL"},
	// A profiling listener is a debugging aid, off by default; an operator
	// turns it on (bound to loopback) for one instance at a time.
	"PPROF_ADDR": {compose: true, k8s: true, why: "pprof is opt-in, for debugging"},
	// The dashboard's trace links need the Jaeger UI's address as users
	// reach it (an ingress), which the manifests cannot know; compose sets it.
	"JAEGER_UI_URL": {k8s: true, why: "the Jaeger UI's external address is site-specific"},
}

// requiredVars must be wired everywhere whatever optionalVars says: without
// them a service does not start or talks to the wrong cluster.
var requiredVars = map[string][]string{
	"client": {"AUTH_TOKENS", "MONGODB_URI", "KAFKA_BROKERS", "NODE_ID", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT"},
	"server": {"AUTH_TOKENS", "MONGODB_URI", "KAFKA_BROKERS", "NODE_ID", "GRPC_ADVERTISE_ADDR", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT"},
}

// externalVars are set on the services but read by something other than
// env.Reader, so the check that every variable set is read skips them.
var externalVars = map[string]string{
	"OTEL_SERVICE_NAME":           "the OpenTelemetry SDK (standard variable)",
	"OTEL_EXPORTER_OTLP_ENDPOINT": "the OpenTelemetry SDK (standard variable)",
	"GOMEMLIMIT":                  "the Go runtime",
}

// varsRead returns every variable kind reads: once with no variable set and
// once with vars, so that variables read only when another is set (the
// KAFKA_SASL_* of a mechanism, say) are included. err is the configuration
// error with vars.
func varsRead(kind serviceKind, vars map[string]string) (names []string, err error) {
	empty := env.FromMap(nil)
	_ = kind.read(empty)
	r := env.FromMap(vars)
	err = kind.read(r)
	names = append(empty.Names(), r.Names()...)
	slices.Sort(names)
	return slices.Compact(names), err
}

// checkServiceEnv checks the environment of one container of kind in target
// ("compose" or "k8s"): the configuration is valid, every variable read is
// set unless optional there, the required ones are set, and every variable
// set is read by someone (a misspelt name is not silently ignored).
func checkServiceEnv(t *testing.T, target, where string, kind serviceKind, vars map[string]string) {
	t.Helper()
	names, err := varsRead(kind, vars)
	if err != nil {
		t.Errorf("%s: the %s configuration is invalid: %v", where, kind.name, err)
	}
	if len(names) < 10 {
		t.Fatalf("%s: only %d variables read (%q): is ConfigFromReader still reading through env.Reader?", where, len(names), names)
	}
	read := make(map[string]bool, len(names))
	for _, n := range names {
		read[n] = true
		if _, ok := vars[n]; ok {
			continue
		}
		opt, ok := optionalVars[n]
		if ok && ((target == "compose" && opt.compose) || (target == "k8s" && opt.k8s)) {
			continue
		}
		t.Errorf("%s: the %s service reads %s but it is not set; set it, or add it to optionalVars in deploy/env_test.go with the reason", where, kind.name, n)
	}
	for _, n := range requiredVars[kind.name] {
		if strings.TrimSpace(vars[n]) == "" {
			t.Errorf("%s: required variable %s is not set", where, n)
		}
	}
	for n := range vars {
		if !read[n] && externalVars[n] == "" {
			t.Errorf("%s: %s is set but the %s service does not read it (misspelt? removed?)", where, n, kind.name)
		}
	}
}

// checkMongoURI checks the production settings of a MongoDB connection
// string and returns it parsed.
func checkMongoURI(t *testing.T, where, uri string) *url.URL {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("%s: MONGODB_URI: %v", where, err)
	}
	if u.Scheme != "mongodb" {
		t.Errorf("%s: MONGODB_URI scheme %q, want mongodb (a replica-set seed list)", where, u.Scheme)
	}
	q := u.Query()
	for k, want := range map[string]string{"w": "majority", "readConcernLevel": "majority", "retryWrites": "true", "authSource": "admin"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s: MONGODB_URI %s=%q, want %q", where, k, got, want)
		}
	}
	if q.Get("replicaSet") == "" {
		t.Errorf("%s: MONGODB_URI has no replicaSet", where)
	}
	if q.Has("directConnection") {
		t.Errorf("%s: MONGODB_URI sets directConnection: the services must follow the primary", where)
	}
	if u.User == nil || u.User.Username() == "" {
		t.Errorf("%s: MONGODB_URI has no user", where)
	}
	return u
}

// uriHosts returns the seed list of a mongodb:// URI, sorted.
func uriHosts(u *url.URL) []string {
	hosts := strings.Split(u.Host, ",")
	slices.Sort(hosts)
	return hosts
}
