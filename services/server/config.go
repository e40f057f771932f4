package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/handler"
	"github.com/jobplane/jobplane/pkg/queue"
)

// Config configures the server service. ConfigFromEnv documents the
// environment variable of each field.
type Config struct {
	NodeID    string // NODE_ID
	AdminAddr string // ADMIN_ADDR, default :8090 (/healthz, /readyz, /metrics)

	KafkaBrokers      []string // KAFKA_BROKERS, default 127.0.0.1:9092
	RequestTopic      string   // KAFKA_REQUEST_TOPIC
	ResponseTopic     string   // KAFKA_RESPONSE_TOPIC
	DLQTopic          string   // KAFKA_DLQ_TOPIC
	Partitions        int      // KAFKA_PARTITIONS, default 60
	ReplicationFactor int      // KAFKA_REPLICATION_FACTOR, default 3
	RequestGroup      string   // KAFKA_REQUEST_GROUP, default operation-request-group

	// Concurrency is the number of handlers running at once (CONCURRENCY,
	// default 16, 1..256).
	Concurrency int
	// MaxAttempts bounds the tries of a transiently failing handler
	// (HANDLER_MAX_ATTEMPTS, default 5).
	MaxAttempts int
	// HandlerTimeout bounds one handler call (HANDLER_TIMEOUT, default 30s).
	HandlerTimeout time.Duration
	// EncryptKey is the AES-256 key of the `encrypt` type (ENCRYPT_KEY,
	// base64 of 32 bytes); without it `encrypt` is not registered.
	EncryptKey []byte

	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 15s
	Consumer        queue.ConsumerConfig

	// Handlers is the registry of operation types; nil means the built-ins.
	// Set it from your own main to add types.
	Handlers *handler.Registry

	LogFormat string // LOG_FORMAT
	LogLevel  string // LOG_LEVEL
	Logger    *slog.Logger
}

// ConfigFromEnv reads the configuration from the environment.
func ConfigFromEnv() (Config, error) {
	r := env.New()
	c := Config{
		NodeID:            r.String("NODE_ID", env.Hostname()),
		AdminAddr:         r.String("ADMIN_ADDR", ":8090"),
		KafkaBrokers:      r.List("KAFKA_BROKERS", []string{"127.0.0.1:9092"}),
		RequestTopic:      r.String("KAFKA_REQUEST_TOPIC", queue.RequestTopic),
		ResponseTopic:     r.String("KAFKA_RESPONSE_TOPIC", queue.ResponseTopic),
		DLQTopic:          r.String("KAFKA_DLQ_TOPIC", queue.DLQTopic),
		Partitions:        r.Int("KAFKA_PARTITIONS", 60),
		ReplicationFactor: r.Int("KAFKA_REPLICATION_FACTOR", 3),
		RequestGroup:      r.String("KAFKA_REQUEST_GROUP", "operation-request-group"),
		Concurrency:       r.Int("CONCURRENCY", 16),
		MaxAttempts:       r.Int("HANDLER_MAX_ATTEMPTS", 5),
		HandlerTimeout:    r.Duration("HANDLER_TIMEOUT", 30*time.Second),
		ShutdownTimeout:   r.Duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		LogFormat:         r.String("LOG_FORMAT", "json"),
		LogLevel:          r.String("LOG_LEVEL", "info"),
		Consumer: queue.ConsumerConfig{
			HeartbeatInterval: r.Duration("KAFKA_HEARTBEAT_INTERVAL", 3*time.Second),
			SessionTimeout:    r.Duration("KAFKA_SESSION_TIMEOUT", 30*time.Second),
			RebalanceTimeout:  r.Duration("KAFKA_REBALANCE_TIMEOUT", 30*time.Second),
			JoinGroupBackoff:  r.Duration("KAFKA_JOIN_GROUP_BACKOFF", time.Second),
			MaxWait:           r.Duration("KAFKA_FETCH_MAX_WAIT", 250*time.Millisecond),
		},
	}
	var errs []error
	if k := r.String("ENCRYPT_KEY", ""); k != "" {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) != 32 {
			errs = append(errs, errors.New("ENCRYPT_KEY: want the base64 encoding of 32 bytes"))
		}
		c.EncryptKey = key
	}
	errs = append(errs, r.Err())
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
		errs = append(errs, fmt.Errorf("ADMIN_ADDR=%q: %w", c.AdminAddr, err))
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS: at least one broker is required"))
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("CONCURRENCY=%d: want 1..256", c.Concurrency))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("HANDLER_MAX_ATTEMPTS=%d: want >= 1", c.MaxAttempts))
	}
	if c.HandlerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("HANDLER_TIMEOUT=%s: want > 0", c.HandlerTimeout))
	}
	if c.Partitions < 1 || c.Partitions > 10000 {
		errs = append(errs, fmt.Errorf("KAFKA_PARTITIONS=%d: want 1..10000", c.Partitions))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT=%s: want > 0", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
