package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jobplane/jobplane/pkg/auth"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestDefaultBurst(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rate float64
		want int
	}{{0.1, 1}, {0.5, 1}, {1, 2}, {2.5, 5}, {100, 200}} {
		if got := auth.DefaultBurst(tt.rate); got != tt.want {
			t.Errorf("DefaultBurst(%g) = %d, want %d", tt.rate, got, tt.want)
		}
	}
}

func TestNewRateLimiterOff(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{0, -1} {
		l := auth.NewRateLimiter(r, 5)
		if l != nil {
			t.Fatalf("NewRateLimiter(%g) = %v, want nil (off)", r, l)
		}
		if ok, _ := l.Allow("t", time.Now()); !ok {
			t.Fatal("a nil limiter refused a call")
		}
	}
}

// TestAllow replays calls at given offsets from a start time.
func TestAllow(t *testing.T) {
	t.Parallel()
	type call struct {
		at    time.Duration // since start
		token string
		ok    bool
		wait  time.Duration // expected retry delay when refused
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		calls []call
	}{
		{"burst then refuse", 1, 2, []call{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, time.Second},
		}},
		{"refill after 1/rate", 2, 1, []call{
			{0, "a", true, 0}, {100 * time.Millisecond, "a", false, 400 * time.Millisecond},
			{500 * time.Millisecond, "a", true, 0},
		}},
		{"a refused call takes nothing", 1, 1, []call{
			{0, "a", true, 0}, {0, "a", false, time.Second}, {0, "a", false, time.Second},
			{time.Second, "a", true, 0},
		}},
		{"tokens are independent", 1, 1, []call{
			{0, "a", true, 0}, {0, "b", true, 0}, {0, "a", false, time.Second}, {0, "b", false, time.Second},
		}},
		{"default burst is twice the rate", 3, 0, []call{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, time.Second / 3},
		}},
		{"empty token has a bucket too", 1, 1, []call{
			{0, "", true, 0}, {0, "", false, time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := auth.NewRateLimiter(tt.rate, tt.burst)
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, c := range tt.calls {
				ok, wait := l.Allow(c.token, start.Add(c.at))
				if ok != c.ok || (!ok && (wait-c.wait).Abs() > time.Millisecond) {
					t.Fatalf("call %d (%+v): ok=%v wait=%v", i, c, ok, wait)
				}
			}
		})
	}
}

func TestIdleBucketsAreEvicted(t *testing.T) {
	t.Parallel()
	l := auth.NewRateLimiter(10, 10) // refills in 1s
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		l.Allow(fmt.Sprint("token-", i), start)
	}
	if n := l.Len(); n != 1000 {
		t.Fatalf("Len = %d, want 1000", n)
	}
	// After a full refill, a new token's arrival sweeps the idle buckets.
	l.Allow("active", start.Add(2*time.Second))
	if n := l.Len(); n != 1 {
		t.Fatalf("Len after idle sweep = %d, want 1", n)
	}

	// A hard bound holds even when tokens arrive faster than they idle.
	auth.SetMaxKeys(l, 100)
	for i := range 1000 {
		l.Allow(fmt.Sprint("burst-", i), start.Add(3*time.Second))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("Len = %d, want <= 100", n)
	}
}

// fakeJobs answers GetJob.
type fakeJobs struct {
	jobsv1.UnimplementedJobServiceServer
}

func (fakeJobs) GetJob(_ context.Context, req *jobsv1.GetJobRequest) (*jobsv1.GetJobResponse, error) {
	return &jobsv1.GetJobResponse{Job: &jobsv1.Job{Id: req.GetId()}}, nil
}

func withToken(tok string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
}

func TestRateLimitInterceptor(t *testing.T) {
	t.Parallel()
	const n = 3
	l := auth.NewRateLimiter(1, n)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	auth.SetClock(l, func() time.Time { return now })
	icpt := l.UnaryInterceptor(auth.ServicePrefix("/jobplane."))
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/jobplane.jobs.v1.JobService/GetJob"}

	for i := range n {
		if _, err := icpt(withToken("secret"), nil, info, ok); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	now = now.Add(900 * time.Millisecond) // still within the second
	_, err := icpt(withToken("secret"), nil, info, ok)
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("call %d: %v, want RESOURCE_EXHAUSTED", n+1, err)
	}
	var reason string
	var retry time.Duration
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			retry = d.GetRetryDelay().AsDuration()
		}
	}
	if reason != auth.ReasonRateLimited || (retry-100*time.Millisecond).Abs() > time.Millisecond {
		t.Fatalf("details: reason %q, retry %v; want RATE_LIMITED, 100ms", reason, retry)
	}

	// Other tokens and unprotected methods are not limited.
	if _, err := icpt(withToken("other"), nil, info, ok); err != nil {
		t.Fatalf("other token: %v", err)
	}
	health := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	for range n + 1 {
		if _, err := icpt(withToken("secret"), nil, health, ok); err != nil {
			t.Fatalf("health: %v", err)
		}
	}
	// The bucket refills.
	now = now.Add(100 * time.Millisecond)
	if _, err := icpt(withToken("secret"), nil, info, ok); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

func TestRateLimitStreamInterceptor(t *testing.T) {
	t.Parallel()
	l := auth.NewRateLimiter(1, 1)
	icpt := l.StreamInterceptor(auth.ServicePrefix("/jobplane."))
	info := &grpc.StreamServerInfo{FullMethod: "/jobplane.jobs.v1.JobService/WatchJob"}
	h := func(any, grpc.ServerStream) error { return nil }
	ss := &fakeStream{ctx: withToken("secret")}
	if err := icpt(nil, ss, info, h); err != nil {
		t.Fatal(err)
	}
	if err := icpt(nil, ss, info, h); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream: %v, want RESOURCE_EXHAUSTED", err)
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func TestMaxInflight(t *testing.T) {
	t.Parallel()
	const n = 2
	icpt := auth.MaxInflight(n, auth.ServicePrefix("/jobplane."))
	info := &grpc.UnaryServerInfo{FullMethod: "/jobplane.jobs.v1.JobService/GetJob"}
	entered := make(chan struct{})
	release := make(chan struct{})
	blocking := func(context.Context, any) (any, error) {
		entered <- struct{}{}
		<-release
		return "ok", nil
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := icpt(context.Background(), nil, info, blocking); err != nil {
				t.Error(err)
			}
		})
		<-entered
	}
	// Full: refused at once, not queued.
	_, err := icpt(context.Background(), nil, info, func(context.Context, any) (any, error) { return "ok", nil })
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || len(st.Details()) != 1 || st.Details()[0].(*errdetails.ErrorInfo).GetReason() != auth.ReasonServerBusy {
		t.Fatalf("when full: %v %v, want RESOURCE_EXHAUSTED SERVER_BUSY", err, st.Details())
	}
	// Unprotected methods pass.
	if _, err := icpt(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"},
		func(context.Context, any) (any, error) { return "ok", nil }); err != nil {
		t.Fatalf("health when full: %v", err)
	}
	close(release)
	wg.Wait()
	// Slots are released.
	if _, err := icpt(context.Background(), nil, info, func(context.Context, any) (any, error) { return "ok", nil }); err != nil {
		t.Fatalf("after release: %v", err)
	}
	// 0 means no bound.
	if _, err := auth.MaxInflight(0, auth.ServicePrefix("/"))(context.Background(), nil, info, func(context.Context, any) (any, error) { return "ok", nil }); err != nil {
		t.Fatal(err)
	}
}

// TestRateLimitOverREST checks what a REST caller of the rate-limited gRPC
// service sees through grpc-gateway: 429 with a google.rpc.Status body
// carrying the ErrorInfo and RetryInfo.
func TestRateLimitOverREST(t *testing.T) {
	t.Parallel()
	protected := auth.ServicePrefix("/jobplane.")
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(
		auth.NewTokens([]string{"secret"}).UnaryInterceptor(protected),
		auth.NewRateLimiter(0.5, 2).UnaryInterceptor(protected),
	))
	jobsv1.RegisterJobServiceServer(srv, fakeJobs{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	mux := runtime.NewServeMux()
	if err := jobsv1.RegisterJobServiceHandler(t.Context(), mux, conn); err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(mux)
	t.Cleanup(gw.Close)

	get := func() (int, []byte) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", gw.URL+"/v1/jobs/j1", nil)
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for i := range 2 {
		if code, body := get(); code != http.StatusOK {
			t.Fatalf("call %d: %d %s", i+1, code, body)
		}
	}
	code, body := get()
	if code != http.StatusTooManyRequests {
		t.Fatalf("third call: %d %s, want 429", code, body)
	}
	var st struct {
		Code    int              `json:"code"`
		Message string           `json:"message"`
		Details []map[string]any `json:"details"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if st.Code != int(codes.ResourceExhausted) || len(st.Details) != 2 ||
		st.Details[0]["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" || st.Details[0]["reason"] != auth.ReasonRateLimited ||
		st.Details[1]["@type"] != "type.googleapis.com/google.rpc.RetryInfo" {
		t.Fatalf("body: %s", body)
	}
}
