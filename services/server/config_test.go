package server

import (
	"strings"
	"testing"
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
