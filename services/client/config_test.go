package client

import (
	"strings"
	"testing"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AUTH_TOKENS", "SHUTDOWN_TIMEOUT", "KAFKA_PARTITIONS", "GRPC_ADDR"} {
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
