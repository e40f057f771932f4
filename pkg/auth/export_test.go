package auth

import "time"

// SetClock replaces the limiter's clock in tests.
func SetClock(l *RateLimiter, now func() time.Time) { l.now = now }

// SetMaxKeys lowers the bound of the limiter's map in tests.
func SetMaxKeys(l *RateLimiter, n int) { l.maxKeys = n }
