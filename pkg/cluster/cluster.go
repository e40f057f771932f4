// Package cluster answers cluster-wide questions by asking every node: it
// lists the registered nodes whose heartbeat has not expired and calls
// NodeService.GetStats on each, in parallel and with a deadline. A node that
// does not answer in time is reported as not responding and makes the answer
// partial; the query never waits longer than the deadline.
package cluster

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Config configures a Querier.
type Config struct {
	// Nodes lists the registered nodes (store.Store.ListNodes).
	Nodes func(ctx context.Context) ([]store.Node, error)
	// TTL: a node without a heartbeat for longer is down and not asked;
	// default 15s.
	TTL time.Duration
	// Timeout bounds the whole fan-out; default 2s.
	Timeout time.Duration
	// Creds of the connections to the nodes; nil is plaintext.
	Creds  credentials.TransportCredentials
	Logger *slog.Logger
}

// Querier fans out to the nodes, reusing one connection per address.
// Safe for concurrent use.
type Querier struct {
	cfg   Config
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// New returns a Querier; Close releases its connections.
func New(cfg Config) *Querier {
	cfg.TTL = cmp.Or(cfg.TTL, 15*time.Second)
	cfg.Timeout = cmp.Or(cfg.Timeout, 2*time.Second)
	if cfg.Creds == nil {
		cfg.Creds = insecure.NewCredentials()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Querier{cfg: cfg, conns: map[string]*grpc.ClientConn{}}
}

// Close closes the connections.
func (q *Querier) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for a, c := range q.conns {
		_ = c.Close()
		delete(q.conns, a)
	}
}

// forgetGone closes the connections to addresses no live node has (a
// restarted server registers a new address).
func (q *Querier) forgetGone(live []store.Node) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for a, c := range q.conns {
		if !slices.ContainsFunc(live, func(n store.Node) bool { return n.Address == a }) {
			_ = c.Close()
			delete(q.conns, a)
		}
	}
}

func (q *Querier) conn(addr string) (*grpc.ClientConn, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c, ok := q.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(q.cfg.Creds))
	if err != nil {
		return nil, err
	}
	q.conns[addr] = c
	return c, nil
}

// Stats asks every live node for its stats, presenting token, and sums them.
func (q *Querier) Stats(ctx context.Context, token string) (*clusterv1.GetClusterStatsResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	all, err := q.cfg.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var live []store.Node
	for _, n := range all {
		if !n.Expired(now, q.cfg.TTL) {
			live = append(live, n)
		}
	}
	q.forgetGone(live)
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	entries := make([]*clusterv1.NodeEntry, len(live))
	var wg sync.WaitGroup
	for i, n := range live {
		entries[i] = &clusterv1.NodeEntry{
			NodeId: n.ID, Role: nodes.RoleProto(n.Role), Address: n.Address, Version: n.Version,
			StartTime: timestamppb.New(n.StartTime), HeartbeatTime: timestamppb.New(n.HeartbeatTime),
		}
		wg.Add(1)
		go func(e *clusterv1.NodeEntry) {
			defer wg.Done()
			st, err := q.ask(ctx, e.Address)
			if err != nil {
				e.Error = err.Error()
				return
			}
			e.Responding, e.Stats = true, st
		}(entries[i])
	}
	wg.Wait()
	slices.SortFunc(entries, func(a, b *clusterv1.NodeEntry) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.NodeId, b.NodeId))
	})
	resp := &clusterv1.GetClusterStatsResponse{Nodes: entries, TotalNodes: int32(min(len(entries), 1<<30))} // #nosec G115 -- clamped
	var totals []*clusterv1.TaskStats
	var byType [][]*clusterv1.TaskStats
	for _, e := range entries {
		if !e.Responding {
			continue
		}
		resp.RespondingNodes++
		totals = append(totals, e.Stats.GetTotals())
		byType = append(byType, e.Stats.GetByType())
	}
	resp.Totals = nodes.Sum("", totals)
	resp.ByType = nodes.MergeByType(byType...)
	resp.IsPartial = resp.RespondingNodes < resp.TotalNodes
	return resp, nil
}

func (q *Querier) ask(ctx context.Context, addr string) (*clusterv1.NodeStats, error) {
	if addr == "" {
		return nil, fmt.Errorf("no address registered")
	}
	c, err := q.conn(addr)
	if err != nil {
		return nil, err
	}
	resp, err := clusterv1.NewNodeServiceClient(c).GetStats(ctx, &clusterv1.GetStatsRequest{})
	if err != nil {
		if s, ok := status.FromError(err); ok {
			return nil, fmt.Errorf("%s: %s", s.Code(), s.Message())
		}
		return nil, err
	}
	return resp.GetStats(), nil
}
