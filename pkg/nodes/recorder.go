package nodes

import (
	"cmp"
	"context"
	"path"
	"slices"
	"sync"
	"time"

	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Recorder counts the API calls of a client node by method: the tasks of
// its NodeService stats. Safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	types map[string]*clusterv1.TaskStats
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{types: map[string]*clusterv1.TaskStats{}} }

func (r *Recorder) begin(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.types[method]
	if t == nil {
		t = &clusterv1.TaskStats{Type: method}
		r.types[method] = t
	}
	t.Received++
	t.InFlight++
}

// rejected are the codes of a call that was not taken on: not
// authenticated, over a limit, or invalid.
func rejected(c codes.Code) bool {
	switch c {
	case codes.Unauthenticated, codes.PermissionDenied, codes.ResourceExhausted, codes.InvalidArgument:
		return true
	}
	return false
}

func (r *Recorder) end(method string, took time.Duration, err error) {
	code := status.Code(err)
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.types[method]
	t.InFlight--
	if !rejected(code) {
		t.Accepted++
	}
	if err == nil {
		t.Completed++
	} else {
		t.Failed++
	}
	t.TotalTaskSeconds += took.Seconds()
}

// Tasks returns a copy of the counters, sorted by method.
func (r *Recorder) Tasks() []*clusterv1.TaskStats {
	r.mu.Lock()
	out := make([]*clusterv1.TaskStats, 0, len(r.types))
	for _, t := range r.types {
		c := &clusterv1.TaskStats{
			Type: t.Type, Received: t.Received, Accepted: t.Accepted, Completed: t.Completed,
			Failed: t.Failed, InFlight: t.InFlight, TotalTaskSeconds: t.TotalTaskSeconds,
		}
		SetAverage(c)
		out = append(out, c)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *clusterv1.TaskStats) int { return cmp.Compare(a.Type, b.Type) })
	return out
}

// UnaryInterceptor counts the calls of methods selected by protected (by
// their short name, e.g. CreateJob). Put it first in the chain so that
// calls refused by later interceptors count as received, not accepted.
func (r *Recorder) UnaryInterceptor(protected func(string) bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !protected(info.FullMethod) {
			return h(ctx, req)
		}
		m := path.Base(info.FullMethod)
		r.begin(m)
		start := time.Now()
		resp, err := h(ctx, req)
		r.end(m, time.Since(start), err)
		return resp, err
	}
}

// StreamInterceptor is the streaming counterpart of UnaryInterceptor.
func (r *Recorder) StreamInterceptor(protected func(string) bool) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if !protected(info.FullMethod) {
			return h(srv, ss)
		}
		m := path.Base(info.FullMethod)
		r.begin(m)
		start := time.Now()
		err := h(srv, ss)
		r.end(m, time.Since(start), err)
		return err
	}
}
