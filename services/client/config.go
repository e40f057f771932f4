package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/queue"
)

// Config configures the client service. ConfigFromEnv documents the
// environment variable of each field.
type Config struct {
	NodeID   string // NODE_ID
	GRPCAddr string // GRPC_ADDR, default :50051
	HTTPAddr string // HTTP_ADDR, default :8080 (REST, /healthz, /readyz, /metrics)

	MongoURI      string // MONGODB_URI, default mongodb://127.0.0.1:27017/
	MongoDatabase string // MONGODB_DATABASE, default jobplane

	KafkaBrokers      []string // KAFKA_BROKERS, default 127.0.0.1:9092
	RequestTopic      string   // KAFKA_REQUEST_TOPIC
	ResponseTopic     string   // KAFKA_RESPONSE_TOPIC
	DLQTopic          string   // KAFKA_DLQ_TOPIC
	Partitions        int      // KAFKA_PARTITIONS, default 60
	ReplicationFactor int      // KAFKA_REPLICATION_FACTOR, default 3 (capped at the broker count)
	ResponseGroup     string   // KAFKA_RESPONSE_GROUP, default operation-response-group

	AuthTokens []string // AUTH_TOKENS, comma-separated, required

	MaxBodyBytes        int64    // MAX_BODY_BYTES, default 10 MiB
	MaxOperationsPerJob int      // MAX_OPERATIONS_PER_JOB, default 100000
	MaxRequestBytes     int      // MAX_OPERATION_REQUEST_BYTES, default 65536
	OperationTypes      []string // OPERATION_TYPES accepted at submission, default expr,encrypt; "*" accepts any

	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 15s
	// Consumer timing (tests shorten these).
	Consumer queue.ConsumerConfig

	LogFormat string // LOG_FORMAT json|text
	LogLevel  string // LOG_LEVEL
	Logger    *slog.Logger
}

// ConfigFromEnv reads the configuration from the environment.
func ConfigFromEnv() (Config, error) {
	r := env.New()
	c := Config{
		NodeID:              r.String("NODE_ID", env.Hostname()),
		GRPCAddr:            r.String("GRPC_ADDR", ":50051"),
		HTTPAddr:            r.String("HTTP_ADDR", ":8080"),
		MongoURI:            r.String("MONGODB_URI", "mongodb://127.0.0.1:27017/"),
		MongoDatabase:       r.String("MONGODB_DATABASE", "jobplane"),
		KafkaBrokers:        r.List("KAFKA_BROKERS", []string{"127.0.0.1:9092"}),
		RequestTopic:        r.String("KAFKA_REQUEST_TOPIC", queue.RequestTopic),
		ResponseTopic:       r.String("KAFKA_RESPONSE_TOPIC", queue.ResponseTopic),
		DLQTopic:            r.String("KAFKA_DLQ_TOPIC", queue.DLQTopic),
		Partitions:          r.Int("KAFKA_PARTITIONS", 60),
		ReplicationFactor:   r.Int("KAFKA_REPLICATION_FACTOR", 3),
		ResponseGroup:       r.String("KAFKA_RESPONSE_GROUP", "operation-response-group"),
		AuthTokens:          r.List("AUTH_TOKENS", nil),
		MaxBodyBytes:        int64(r.Int("MAX_BODY_BYTES", 10<<20)),
		MaxOperationsPerJob: r.Int("MAX_OPERATIONS_PER_JOB", 100_000),
		MaxRequestBytes:     r.Int("MAX_OPERATION_REQUEST_BYTES", 64<<10),
		OperationTypes:      r.List("OPERATION_TYPES", []string{"expr", "encrypt"}),
		ShutdownTimeout:     r.Duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		LogFormat:           r.String("LOG_FORMAT", "json"),
		LogLevel:            r.String("LOG_LEVEL", "info"),
		Consumer: queue.ConsumerConfig{
			HeartbeatInterval: r.Duration("KAFKA_HEARTBEAT_INTERVAL", 3*time.Second),
			SessionTimeout:    r.Duration("KAFKA_SESSION_TIMEOUT", 30*time.Second),
			RebalanceTimeout:  r.Duration("KAFKA_REBALANCE_TIMEOUT", 30*time.Second),
			JoinGroupBackoff:  r.Duration("KAFKA_JOIN_GROUP_BACKOFF", time.Second),
			MaxWait:           r.Duration("KAFKA_FETCH_MAX_WAIT", 250*time.Millisecond),
		},
	}
	if err := r.Err(); err != nil {
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
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS: at least one broker is required"))
	}
	if c.MongoURI == "" {
		errs = append(errs, errors.New("MONGODB_URI is required"))
	}
	if c.Partitions < 1 || c.Partitions > 10000 {
		errs = append(errs, fmt.Errorf("KAFKA_PARTITIONS=%d: want 1..10000", c.Partitions))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("KAFKA_REPLICATION_FACTOR=%d: want >= 1", c.ReplicationFactor))
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
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT=%s: want > 0", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
