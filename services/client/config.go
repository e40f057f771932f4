package client

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/jobplane/jobplane/pkg/auth"
	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
)

// Config configures the client service. ConfigFromEnv documents the
// environment variable of each field.
type Config struct {
	NodeID   string // NODE_ID
	GRPCAddr string // GRPC_ADDR, default :50051
	HTTPAddr string // HTTP_ADDR, default :8080 (REST, /healthz, /readyz, /metrics)

	MongoURI      string // MONGODB_URI, default mongodb://127.0.0.1:27017/
	MongoDatabase string // MONGODB_DATABASE, default jobplane
	// OperationDocuments is how new jobs' operations are stored
	// (OPERATION_DOCUMENTS): "grouped" (default, up to 100 to a document)
	// or "single" (one document each, as earlier versions did: for a
	// rolling upgrade from such a version, see docs/operations.md).
	OperationDocuments string
	// OutcomeDocuments (OUTCOME_DOCUMENTS): "job" (default: a small job's
	// outcomes applied at once in one document) or "operation" (one each);
	// OutboxEntries (OUTBOX_ENTRIES): "batch" (default: one per group
	// commit, in the outbox collection), "active" (one per group commit,
	// in jobs_active: more throughput, a worse tail near the peak, see
	// store.OutboxActive) or "job" (one per job). "operation" and "job"
	// are how versions before 2026-12-05 wrote: for a rolling upgrade from
	// such a version.
	OutcomeDocuments, OutboxEntries string

	Kafka         queue.Settings // KAFKA_* (see queue.SettingsFromEnv)
	ResponseGroup string         // KAFKA_RESPONSE_GROUP, default operation-response-group

	AuthTokens []string // AUTH_TOKENS, comma-separated, required

	MaxBodyBytes        int64    // MAX_BODY_BYTES, default 10 MiB
	MaxOperationsPerJob int      // MAX_OPERATIONS_PER_JOB, default 100000
	MaxRequestBytes     int      // MAX_OPERATION_REQUEST_BYTES, default 65536
	OperationTypes      []string // OPERATION_TYPES accepted at submission, default expr,encrypt; "*" accepts any

	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 15s

	// TLS of the gRPC and REST listeners (TLS_CERT, TLS_KEY, TLS_CLIENT_CA;
	// see package tlsconfig). Off by default.
	TLS tlsconfig.Files
	// RateLimit is the calls per second allowed per bearer token
	// (RATE_LIMIT, default 0 = no limit; fractions allowed) and
	// RateLimitBurst its bucket size (RATE_LIMIT_BURST, default twice the
	// rate, at least 1).
	RateLimit      float64
	RateLimitBurst int
	// MaxInflight bounds the unary API calls running at once; more are
	// refused with RESOURCE_EXHAUSTED (MAX_INFLIGHT_REQUESTS, default 1024).
	MaxInflight int

	Relay RelayConfig // RELAY_* (see RelayConfigFromEnv)

	// Nodes holds the membership settings (GRPC_ADVERTISE_ADDR,
	// NODE_HEARTBEAT_INTERVAL, NODE_TTL; see nodes.SettingsFromEnv).
	Nodes nodes.Settings
	// ClusterTimeout bounds a cluster query's fan-out to the nodes
	// (CLUSTER_QUERY_TIMEOUT, default 2s).
	ClusterTimeout time.Duration

	// JaegerUIURL is the Jaeger UI the web dashboard links jobs' traces to
	// (JAEGER_UI_URL, e.g. http://localhost:16686); empty: no link.
	JaegerUIURL string
	// TraceService is the service.name of this service's spans, which
	// the trace links search (OTEL_SERVICE_NAME, as the tracer reads it;
	// default client-application).
	TraceService string

	LogFormat string // LOG_FORMAT json|text
	LogLevel  string // LOG_LEVEL
	// PprofAddr serves net/http/pprof when set (PPROF_ADDR, e.g.
	// 127.0.0.1:6061); off by default.
	PprofAddr string
	Logger    *slog.Logger
}

// ConfigFromEnv reads the configuration from the environment.
func ConfigFromEnv() (Config, error) { return ConfigFromReader(env.New()) }

// ConfigFromReader reads the configuration through r (deploy tests use it to
// list every variable read).
func ConfigFromReader(r *env.Reader) (Config, error) {
	c := Config{
		NodeID:              r.String("NODE_ID", env.Hostname()),
		GRPCAddr:            r.String("GRPC_ADDR", ":50051"),
		HTTPAddr:            r.String("HTTP_ADDR", ":8080"),
		MongoURI:            r.String("MONGODB_URI", "mongodb://127.0.0.1:27017/"),
		MongoDatabase:       r.String("MONGODB_DATABASE", "jobplane"),
		OperationDocuments:  r.String("OPERATION_DOCUMENTS", "grouped"),
		OutcomeDocuments:    r.String("OUTCOME_DOCUMENTS", "job"),
		OutboxEntries:       r.String("OUTBOX_ENTRIES", "batch"),
		Kafka:               queue.SettingsFromEnv(r),
		ResponseGroup:       r.String("KAFKA_RESPONSE_GROUP", "operation-response-group"),
		AuthTokens:          r.List("AUTH_TOKENS", nil),
		MaxBodyBytes:        int64(r.Int("MAX_BODY_BYTES", 10<<20)),
		MaxOperationsPerJob: r.Int("MAX_OPERATIONS_PER_JOB", 100_000),
		MaxRequestBytes:     r.Int("MAX_OPERATION_REQUEST_BYTES", 64<<10),
		OperationTypes:      r.List("OPERATION_TYPES", []string{"expr", "encrypt"}),
		ShutdownTimeout:     r.Duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		TLS:                 tlsconfig.FromEnv(r),
		RateLimitBurst:      r.Int("RATE_LIMIT_BURST", 0),
		MaxInflight:         r.Int("MAX_INFLIGHT_REQUESTS", 1024),
		Relay:               RelayConfigFromEnv(r),
		Nodes:               nodes.SettingsFromEnv(r),
		ClusterTimeout:      r.Duration("CLUSTER_QUERY_TIMEOUT", 2*time.Second),
		JaegerUIURL:         r.String("JAEGER_UI_URL", ""),
		TraceService:        r.String("OTEL_SERVICE_NAME", "client-application"),
		LogFormat:           r.String("LOG_FORMAT", "json"),
		LogLevel:            r.String("LOG_LEVEL", "info"),
		PprofAddr:           r.String("PPROF_ADDR", ""),
	}
	var rateErr error
	if v := r.String("RATE_LIMIT", "0"); v != "0" {
		if c.RateLimit, rateErr = strconv.ParseFloat(v, 64); rateErr != nil {
			rateErr = fmt.Errorf("RATE_LIMIT=%q: not a number (requests per second per token)", v)
		}
	}
	if c.RateLimitBurst == 0 && c.RateLimit > 0 {
		c.RateLimitBurst = auth.DefaultBurst(c.RateLimit)
	}
	if err := errors.Join(r.Err(), rateErr); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if len(c.AuthTokens) == 0 {
		errs = append(errs, errors.New("AUTH_TOKENS: at least one token is required"))
	}
	for name, addr := range map[string]string{"GRPC_ADDR": c.GRPCAddr, "HTTP_ADDR": c.HTTPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, addr, err))
		}
	}
	errs = append(errs, c.Kafka.Validate(), c.Relay.validate(), c.Nodes.Validate())
	if c.ClusterTimeout <= 0 {
		errs = append(errs, fmt.Errorf("CLUSTER_QUERY_TIMEOUT=%s: want > 0", c.ClusterTimeout))
	}
	if c.MongoURI == "" {
		errs = append(errs, errors.New("MONGODB_URI is required"))
	}
	if c.OperationDocuments != "grouped" && c.OperationDocuments != "single" {
		errs = append(errs, fmt.Errorf("OPERATION_DOCUMENTS=%q: want grouped or single", c.OperationDocuments))
	}
	if c.OutcomeDocuments != "job" && c.OutcomeDocuments != "operation" {
		errs = append(errs, fmt.Errorf("OUTCOME_DOCUMENTS=%q: want job or operation", c.OutcomeDocuments))
	}
	if _, ok := outboxLayouts[c.OutboxEntries]; !ok {
		errs = append(errs, fmt.Errorf("OUTBOX_ENTRIES=%q: want active, batch or job", c.OutboxEntries))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("MAX_BODY_BYTES=%d: want >= 1024", c.MaxBodyBytes))
	}
	if c.MaxOperationsPerJob < 1 {
		errs = append(errs, fmt.Errorf("MAX_OPERATIONS_PER_JOB=%d: want >= 1", c.MaxOperationsPerJob))
	}
	if c.MaxRequestBytes < 1 {
		errs = append(errs, fmt.Errorf("MAX_OPERATION_REQUEST_BYTES=%d: want >= 1", c.MaxRequestBytes))
	}
	errs = append(errs, c.TLS.Validate())
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("RATE_LIMIT=%g: want >= 0 (0 = no limit)", c.RateLimit))
	}
	if c.RateLimit > 0 && c.RateLimitBurst < 1 {
		errs = append(errs, fmt.Errorf("RATE_LIMIT_BURST=%d: want >= 1", c.RateLimitBurst))
	}
	if c.MaxInflight < 1 {
		errs = append(errs, fmt.Errorf("MAX_INFLIGHT_REQUESTS=%d: want >= 1", c.MaxInflight))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT=%s: want > 0", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// outboxLayouts are the values of OUTBOX_ENTRIES.
var outboxLayouts = map[string]store.OutboxLayout{
	"active": store.OutboxActive, "batch": store.OutboxBatch, "job": store.OutboxJob,
}
