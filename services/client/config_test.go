package client

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/queue"
)

// Not parallel: t.Setenv.
func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults with a token", map[string]string{"AUTH_TOKENS": "t1,t2"}, ""},
		{"no token", map[string]string{}, "AUTH_TOKENS"},
		{"bad duration", map[string]string{"AUTH_TOKENS": "t", "SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT"},
		{"bad int", map[string]string{"AUTH_TOKENS": "t", "KAFKA_PARTITIONS": "sixty"}, "KAFKA_PARTITIONS"},
		{"bad range", map[string]string{"AUTH_TOKENS": "t", "KAFKA_PARTITIONS": "0"}, "KAFKA_PARTITIONS"},
		{"bad address", map[string]string{"AUTH_TOKENS": "t", "GRPC_ADDR": "nonsense"}, "GRPC_ADDR"},
		{"bad compression", map[string]string{"AUTH_TOKENS": "t", "KAFKA_COMPRESSION": "brotli"}, "KAFKA_COMPRESSION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AUTH_TOKENS", "SHUTDOWN_TIMEOUT", "KAFKA_PARTITIONS", "GRPC_ADDR", "KAFKA_COMPRESSION"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := ConfigFromEnv()
			if tt.wantErr == "" {
				if err != nil || len(cfg.AuthTokens) != 2 || cfg.GRPCAddr != ":50051" || cfg.Kafka.Partitions != 60 {
					t.Fatalf("cfg = %+v, err = %v", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

// TestSecurityAndLimitsConfig covers TLS_*, KAFKA_TLS*, KAFKA_SASL_*,
// RATE_LIMIT* and MAX_INFLIGHT_REQUESTS.
func TestSecurityAndLimitsConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool // for valid configurations
		wantErr string
	}{
		{"defaults", nil, func(c Config) bool {
			return c.RateLimit == 0 && c.MaxInflight == 1024 && !c.TLS.Enabled() && c.Kafka.Security == queue.Security{}
		}, ""},
		{"rate with default burst", map[string]string{"RATE_LIMIT": "2.5"}, func(c Config) bool {
			return c.RateLimit == 2.5 && c.RateLimitBurst == 5
		}, ""},
		{"small rate has burst 1", map[string]string{"RATE_LIMIT": "0.2"}, func(c Config) bool { return c.RateLimitBurst == 1 }, ""},
		{"explicit burst", map[string]string{"RATE_LIMIT": "10", "RATE_LIMIT_BURST": "3"}, func(c Config) bool {
			return c.RateLimit == 10 && c.RateLimitBurst == 3
		}, ""},
		{"rate not a number", map[string]string{"RATE_LIMIT": "fast"}, nil, "RATE_LIMIT"},
		{"negative rate", map[string]string{"RATE_LIMIT": "-1"}, nil, "RATE_LIMIT"},
		{"negative burst", map[string]string{"RATE_LIMIT": "1", "RATE_LIMIT_BURST": "-2"}, nil, "RATE_LIMIT_BURST"},
		{"no inflight slots", map[string]string{"MAX_INFLIGHT_REQUESTS": "0"}, nil, "MAX_INFLIGHT_REQUESTS"},
		{"operations grouped by default", nil, func(c Config) bool { return c.OperationDocuments == "grouped" }, ""},
		{"operations one per document", map[string]string{"OPERATION_DOCUMENTS": "single"}, func(c Config) bool { return c.OperationDocuments == "single" }, ""},
		{"unknown operation layout", map[string]string{"OPERATION_DOCUMENTS": "chunked"}, nil, "OPERATION_DOCUMENTS"},
		{"mtls", map[string]string{"TLS_CERT": "/c.pem", "TLS_KEY": "/k.pem", "TLS_CLIENT_CA": "/ca.pem"}, func(c Config) bool {
			return c.TLS.Cert == "/c.pem" && c.TLS.Key == "/k.pem" && c.TLS.ClientCA == "/ca.pem"
		}, ""},
		{"cert without key", map[string]string{"TLS_CERT": "/c.pem"}, nil, "TLS_KEY"},
		{"client ca alone", map[string]string{"TLS_CLIENT_CA": "/ca.pem"}, nil, "TLS_CLIENT_CA"},
		{"kafka scram over tls", map[string]string{
			"KAFKA_TLS": "true", "KAFKA_TLS_CA": "/ca.pem", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
			"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p",
		}, func(c Config) bool {
			return c.Kafka.Security == queue.Security{TLS: true, TLSCA: "/ca.pem", SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"}
		}, ""},
		{"kafka tls not a bool", map[string]string{"KAFKA_TLS": "maybe"}, nil, "KAFKA_TLS"},
		{"kafka mechanism without username", map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_PASSWORD": "p"}, nil, "KAFKA_SASL_USERNAME"},
		{"kafka mechanism without password", map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"}, nil, "KAFKA_SASL_PASSWORD"},
		{"kafka unknown mechanism", map[string]string{"KAFKA_SASL_MECHANISM": "OAUTHBEARER"}, nil, "KAFKA_SASL_MECHANISM"},
		{"kafka ca without tls", map[string]string{"KAFKA_TLS_CA": "/ca.pem"}, nil, "KAFKA_TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"AUTH_TOKENS": "t"}
			for k, v := range tt.env {
				vars[k] = v
			}
			cfg, err := ConfigFromReader(env.FromMap(vars))
			if tt.wantErr == "" {
				if err != nil || !tt.check(cfg) {
					t.Fatalf("cfg = %+v, err = %v", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
			if p := vars["KAFKA_SASL_PASSWORD"]; p != "" && strings.Contains(err.Error(), p) {
				t.Fatalf("error contains the password: %v", err)
			}
		})
	}
}

// TestSecretsStayOutOfErrorsAndLogs runs the service with credentials in
// MONGODB_URI, KAFKA_SASL_PASSWORD and AUTH_TOKENS against servers that do
// not answer: neither the start-up error nor any log line may contain them.
func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	secrets := []string{"token-secret-1", "mongo-secret-2", "kafka-secret-3"}
	cfg, err := ConfigFromReader(env.FromMap(map[string]string{
		"AUTH_TOKENS":          secrets[0],
		"MONGODB_URI":          "mongodb://jobplane:" + secrets[1] + "@127.0.0.1:1/?authSource=admin&tls=false",
		"KAFKA_BROKERS":        "127.0.0.1:1",
		"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
		"KAFKA_SASL_USERNAME":  "jobplane",
		"KAFKA_SASL_PASSWORD":  secrets[2],
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // read after Run returns
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	err = Run(ctx, cfg)
	if err == nil {
		t.Fatal("Run succeeded without MongoDB")
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
			t.Fatalf("%q leaked:\nerr: %v\nlogs:\n%s", s, err, logs.String())
		}
	}
	t.Logf("start-up error: %v", err)
}
