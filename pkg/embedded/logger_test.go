package embedded

import (
	"bytes"
	"log/slog"
	"testing"
)

// The deferred attributes come out exactly as the wrapped handler would
// write them, groups included, and nothing is formatted for a disabled level.
func TestLazyAttrsWritesWhatTheHandlerWould(t *testing.T) {
	t.Parallel()
	log := func(wrap bool) (string, int) {
		formatted := &counter{}
		var buf bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}})
		if wrap {
			h = &lazyAttrs{inner: h}
		}
		l := slog.New(h)
		l.With("a", 1).With("b", "two").Info("first", "c", 3)
		l.With("a", 1).WithGroup("g").With("d", 4).Info("second", "e", 5)
		l.With("skipped", formatted).Debug("disabled")
		return buf.String(), formatted.n
	}
	got, lazy := log(true)
	want, eager := log(false)
	if got != want {
		t.Fatalf("wrapped:\n%s\nplain:\n%s", got, want)
	}
	if lazy != 0 || eager == 0 {
		t.Fatalf("attributes of a disabled record formatted %d times wrapped, %d plain; want 0 and more", lazy, eager)
	}
}

// counter counts how often a handler formats it.
type counter struct{ n int }

func (c *counter) LogValue() slog.Value { c.n++; return slog.IntValue(c.n) }
