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
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
)

// Config configures the server service. ConfigFromEnv documents the
// environment variable of each field.
type Config struct {
	NodeID    string // NODE_ID
	AdminAddr string // ADMIN_ADDR, default :8090 (/healthz, /readyz, /metrics)
	// GRPCAddr serves NodeService (GRPC_ADDR, default :0: any free port;
	// the node registers the address it got, see Nodes).
	GRPCAddr string

	MongoURI      string // MONGODB_URI, default mongodb://127.0.0.1:27017/ (membership, metric aggregates)
	MongoDatabase string // MONGODB_DATABASE, default jobplane
	// AuthTokens are the bearer tokens NodeService accepts (AUTH_TOKENS);
	// without any, every NodeService call is refused.
	AuthTokens []string
	// Nodes holds the membership settings (GRPC_ADVERTISE_ADDR,
	// NODE_HEARTBEAT_INTERVAL, NODE_TTL; see nodes.SettingsFromEnv).
	Nodes nodes.Settings
	// MetricGroup is the consumer group aggregating metric samples
	// (KAFKA_METRIC_GROUP, default metric-sample-group).
	MetricGroup string

	Kafka        queue.Settings // KAFKA_* (see queue.SettingsFromEnv)
	RequestGroup string         // KAFKA_REQUEST_GROUP, default operation-request-group

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

	// TLS of the admin listener (TLS_CERT, TLS_KEY, TLS_CLIENT_CA; see
	// package tlsconfig). Off by default.
	TLS tlsconfig.Files

	// Handlers is the registry of operation types; nil means the built-ins.
	// Set it from your own main to add types.
	Handlers *handler.Registry

	LogFormat string // LOG_FORMAT
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
		NodeID:          r.String("NODE_ID", env.Hostname()),
		AdminAddr:       r.String("ADMIN_ADDR", ":8090"),
		GRPCAddr:        r.String("GRPC_ADDR", ":0"),
		MongoURI:        r.String("MONGODB_URI", "mongodb://127.0.0.1:27017/"),
		MongoDatabase:   r.String("MONGODB_DATABASE", "jobplane"),
		AuthTokens:      r.List("AUTH_TOKENS", nil),
		Nodes:           nodes.SettingsFromEnv(r),
		MetricGroup:     r.String("KAFKA_METRIC_GROUP", "metric-sample-group"),
		Kafka:           queue.SettingsFromEnv(r),
		RequestGroup:    r.String("KAFKA_REQUEST_GROUP", "operation-request-group"),
		Concurrency:     r.Int("CONCURRENCY", 16),
		MaxAttempts:     r.Int("HANDLER_MAX_ATTEMPTS", 5),
		HandlerTimeout:  r.Duration("HANDLER_TIMEOUT", 30*time.Second),
		ShutdownTimeout: r.Duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		TLS:             tlsconfig.FromEnv(r),
		LogFormat:       r.String("LOG_FORMAT", "json"),
		LogLevel:        r.String("LOG_LEVEL", "info"),
		PprofAddr:       r.String("PPROF_ADDR", ""),
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
	if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
		errs = append(errs, fmt.Errorf("GRPC_ADDR=%q: %w", c.GRPCAddr, err))
	}
	if c.MongoURI == "" {
		errs = append(errs, errors.New("MONGODB_URI is required"))
	}
	errs = append(errs, c.Nodes.Validate())
	errs = append(errs, c.Kafka.Validate(), c.TLS.Validate())
	if c.Concurrency < 1 || c.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("CONCURRENCY=%d: want 1..256", c.Concurrency))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("HANDLER_MAX_ATTEMPTS=%d: want >= 1", c.MaxAttempts))
	}
	if c.HandlerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("HANDLER_TIMEOUT=%s: want > 0", c.HandlerTimeout))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SHUTDOWN_TIMEOUT=%s: want > 0", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
