package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", map[string]string{}, ""},
		{"concurrency too high", map[string]string{"CONCURRENCY": "1000"}, "CONCURRENCY"},
		{"bad key", map[string]string{"ENCRYPT_KEY": "c2hvcnQ="}, "ENCRYPT_KEY"},
		{"bad attempts", map[string]string{"HANDLER_MAX_ATTEMPTS": "0"}, "HANDLER_MAX_ATTEMPTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"CONCURRENCY", "ENCRYPT_KEY", "HANDLER_MAX_ATTEMPTS"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := ConfigFromEnv()
			if tt.wantErr == "" {
				if err != nil || cfg.Concurrency != 16 || cfg.AdminAddr != ":8090" {
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

// TestSecurityConfig covers TLS_* (admin listener) and the Kafka security
// variables.
func TestSecurityConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"tls", map[string]string{"TLS_CERT": "/c.pem", "TLS_KEY": "/k.pem"}, ""},
		{"mtls", map[string]string{"TLS_CERT": "/c.pem", "TLS_KEY": "/k.pem", "TLS_CLIENT_CA": "/ca.pem"}, ""},
		{"key without cert", map[string]string{"TLS_KEY": "/k.pem"}, "TLS_CERT"},
		{"client ca alone", map[string]string{"TLS_CLIENT_CA": "/ca.pem"}, "TLS_CLIENT_CA"},
		{"kafka plain", map[string]string{"KAFKA_SASL_MECHANISM": "plain", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, ""},
		{"kafka mechanism without password", map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_PASSWORD"},
		{"kafka client cert without key", map[string]string{"KAFKA_TLS": "1", "KAFKA_TLS_CERT": "/c.pem"}, "KAFKA_TLS_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ConfigFromReader(env.FromMap(tt.env))
			if tt.wantErr == "" {
				if err != nil || cfg.TLS.Cert != tt.env["TLS_CERT"] || cfg.Kafka.Security.SASLUsername != tt.env["KAFKA_SASL_USERNAME"] {
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

// TestKafkaPasswordStaysOutOfErrorsAndLogs runs the service with a SASL
// password against a broker address that refuses connections.
func TestKafkaPasswordStaysOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	const secret = "kafka-secret-3"
	cfg, err := ConfigFromReader(env.FromMap(map[string]string{
		"KAFKA_BROKERS":        "127.0.0.1:1",
		"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME":  "jobplane",
		"KAFKA_SASL_PASSWORD":  secret,
		"ADMIN_ADDR":           "127.0.0.1:0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // read after Run returns
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = Run(ctx, cfg)
	if err == nil {
		t.Fatal("Run succeeded without Kafka")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Fatalf("password leaked:\nerr: %v\nlogs:\n%s", err, logs.String())
	}
	t.Logf("start-up error: %v", err)
}
