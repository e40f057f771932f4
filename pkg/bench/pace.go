package bench

import (
	"context"
	"time"
)

// pacer spaces submissions at a fixed rate on an absolute schedule: job i is
// due at start + i/rate. A submission that could not start on time (every
// caller busy) does not shift the ones after it, so the offered load stays
// the target while the callers keep up, and the achieved rate shows when
// they did not. (A time.Ticker would drop the missed ticks instead and
// lower the offered rate silently.)
type pacer struct {
	start time.Time
	rate  float64 // jobs per second; 0: no pacing
}

// due is when job i may be submitted.
func (p pacer) due(i int) time.Time {
	if p.rate <= 0 {
		return p.start
	}
	return p.start.Add(time.Duration(float64(i) * float64(time.Second) / p.rate))
}

// clock is the time source of the pacer, replaced in tests.
type clock interface {
	Now() time.Time
	// SleepUntil returns at t or when ctx is done.
	SleepUntil(ctx context.Context, t time.Time) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// wait blocks until job i is due.
func (p pacer) wait(ctx context.Context, clk clock, i int) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	due := p.due(i)
	if !clk.Now().Before(due) {
		return ctx.Err()
	}
	return clk.SleepUntil(ctx, due)
}

// achievedRate is the rate at which n submissions started, from the first
// start to the last: (n-1) intervals over that span. 0 when it cannot be
// told (fewer than two submissions, or no time between them).
func achievedRate(n int, first, last time.Time) float64 {
	span := last.Sub(first).Seconds()
	if n < 2 || span <= 0 {
		return 0
	}
	return float64(n-1) / span
}
