package embedded

import (
	"context"
	"log/slog"
	"slices"
)

// lazyAttrs is a slog.Handler that defers WithAttrs until a record is
// handled. FerretDB v1.24 calls Logger.With with every SQL statement's
// arguments (whole documents) twice per statement, before it knows whether
// the debug record will be written; a text or JSON handler formats those
// attributes right away. Profiled under W1 that was 7.75 % of the embedded
// servers' CPU for records that were then dropped.
type lazyAttrs struct {
	inner slog.Handler
	attrs []slog.Attr
}

func (h *lazyAttrs) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *lazyAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	return &lazyAttrs{inner: h.inner, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *lazyAttrs) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &lazyAttrs{inner: h.materialize().WithGroup(name)}
}

func (h *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	return h.materialize().Handle(ctx, r)
}

func (h *lazyAttrs) materialize() slog.Handler {
	if len(h.attrs) == 0 {
		return h.inner
	}
	return h.inner.WithAttrs(h.attrs)
}
