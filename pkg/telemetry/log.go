package telemetry

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// NewLogger returns a JSON (or text) slog logger at the given level
// ("debug", "info", "warn", "error").
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(cmp.Or(level, "info"))); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(cmp.Or(format, "json")) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT %q: want json or text", format)
	}
}

// ServiceLogger returns base (or, when nil, a new logger of the given format
// and level on stderr) with the service name and node id on every line.
func ServiceLogger(base *slog.Logger, format, level, service, nodeID string) (*slog.Logger, error) {
	if base == nil {
		var err error
		if base, err = NewLogger(os.Stderr, format, level); err != nil {
			return nil, err
		}
	}
	return base.With("service", service, "node_id", nodeID), nil
}
