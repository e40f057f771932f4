package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrorDomain is the ErrorInfo domain of the limits' errors.
const ErrorDomain = "jobplane.dev"

// Reasons in the ErrorInfo of a ResourceExhausted answer.
const (
	ReasonRateLimited = "RATE_LIMITED"
	ReasonServerBusy  = "SERVER_BUSY"
)

// DefaultBurst is the burst of a rate: twice the rate, at least 1.
func DefaultBurst(perSecond float64) int {
	return max(1, int(math.Ceil(2*perSecond)))
}

// RateLimiter limits the calls of each bearer token with a token bucket
// (golang.org/x/time/rate). Buckets are keyed by the SHA-256 of the token,
// never the token itself, and a bucket unused for long enough to have
// refilled completely is dropped (it is equivalent to a new one), so memory
// stays bounded. A nil *RateLimiter allows everything.
type RateLimiter struct {
	limit rate.Limit
	burst int
	// idle is how long a bucket takes to refill completely; maxKeys bounds
	// the map even when callers rotate tokens faster than that.
	idle    time.Duration
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[[sha256.Size]byte]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewRateLimiter returns a limiter of perSecond calls per token with the
// given burst (<= 0 means DefaultBurst), or nil (no limit) when perSecond
// is not positive.
func NewRateLimiter(perSecond float64, burst int) *RateLimiter {
	if perSecond <= 0 || math.IsNaN(perSecond) {
		return nil
	}
	if burst <= 0 {
		burst = DefaultBurst(perSecond)
	}
	refill := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &RateLimiter{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		idle:    max(refill, time.Second),
		maxKeys: 100_000,
		now:     time.Now,
		buckets: map[[sha256.Size]byte]*bucket{},
	}
}

// Allow takes one call from token's bucket at now. When the bucket is empty
// it returns false and how long until a call would be allowed.
func (l *RateLimiter) Allow(token string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	key := sha256.Sum256([]byte(token))
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		l.sweep(now)
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() { // cannot happen with burst >= 1; refuse rather than wait forever
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of buckets held.
func (l *RateLimiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweep drops buckets idle for l.idle, at most once per l.idle, and if the
// map is still full, arbitrary buckets (their callers get a fresh, full
// bucket: more lenient, never a wrong refusal). l.mu is held.
func (l *RateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) >= l.idle || len(l.buckets) >= l.maxKeys {
		l.lastSweep = now
		for k, b := range l.buckets {
			if now.Sub(b.last) >= l.idle {
				delete(l.buckets, k)
			}
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys {
			break
		}
		delete(l.buckets, k)
	}
}

func (l *RateLimiter) check(ctx context.Context) error {
	tok, _ := FromContext(ctx)
	ok, wait := l.Allow(tok, l.now())
	if ok {
		return nil
	}
	st, err := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit of %g requests per second per token exceeded, retry in %s", float64(l.limit), wait.Round(time.Millisecond))).
		WithDetails(
			&errdetails.ErrorInfo{Reason: ReasonRateLimited, Domain: ErrorDomain, Metadata: map[string]string{
				"limit_per_second": fmt.Sprint(float64(l.limit)), "burst": fmt.Sprint(l.burst),
			}},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
		)
	if err != nil {
		return status.Error(codes.ResourceExhausted, "rate limit exceeded")
	}
	return st.Err()
}

// UnaryInterceptor refuses calls to protected methods beyond the rate of
// their token with RESOURCE_EXHAUSTED, an ErrorInfo (reason RATE_LIMITED)
// and a RetryInfo. Chain it after the token check, so that only valid
// tokens get a bucket.
func (l *RateLimiter) UnaryInterceptor(protected Protected) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if l != nil && protected(info.FullMethod) {
			if err := l.check(ctx); err != nil {
				return nil, err
			}
		}
		return h(ctx, req)
	}
}

// StreamInterceptor is the streaming counterpart of UnaryInterceptor: a
// stream counts as one call when it opens.
func (l *RateLimiter) StreamInterceptor(protected Protected) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if l != nil && protected(info.FullMethod) {
			if err := l.check(ss.Context()); err != nil {
				return err
			}
		}
		return h(srv, ss)
	}
}

// MaxInflight bounds the unary calls to protected methods running at once
// (n <= 0: no bound). When n calls are running, a new one is refused at once
// with RESOURCE_EXHAUSTED "server busy" and an ErrorInfo (reason
// SERVER_BUSY) rather than queued.
func MaxInflight(n int, protected Protected) grpc.UnaryServerInterceptor {
	if n <= 0 {
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return h(ctx, req)
		}
	}
	sem := make(chan struct{}, n)
	busy, err := status.New(codes.ResourceExhausted, "server busy, retry").
		WithDetails(&errdetails.ErrorInfo{Reason: ReasonServerBusy, Domain: ErrorDomain})
	if err != nil {
		busy = status.New(codes.ResourceExhausted, "server busy, retry")
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !protected(info.FullMethod) {
			return h(ctx, req)
		}
		select {
		case sem <- struct{}{}:
		default:
			return nil, busy.Err()
		}
		defer func() { <-sem }()
		return h(ctx, req)
	}
}
