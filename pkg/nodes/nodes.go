// Package nodes is node membership and per-node stats: every service
// instance registers itself in MongoDB (collection `nodes`, `_id` = NODE_ID)
// and heartbeats by `_id` (each instance is the single writer of its own
// document), and serves NodeService.GetStats on its gRPC port.
package nodes

import (
	"cmp"
	"context"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	"github.com/jobplane/jobplane/pkg/store"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Roles of a node, as stored.
const (
	RoleClient = "client"
	RoleServer = "server"
)

// RoleProto converts a stored role.
func RoleProto(role string) clusterv1.NodeRole {
	switch role {
	case RoleClient:
		return clusterv1.NodeRole_NODE_ROLE_CLIENT
	case RoleServer:
		return clusterv1.NodeRole_NODE_ROLE_SERVER
	}
	return clusterv1.NodeRole_NODE_ROLE_UNSPECIFIED
}

// Version is the module version of the running binary ("(devel)" for a
// local build), with the VCS revision when it was stamped.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

// Config configures a node's membership.
type Config struct {
	ID      string
	Role    string
	Address string // gRPC address other nodes dial
	// Interval between heartbeats; default 5s. Readers consider a node
	// down after their TTL (a few intervals) without one.
	Interval time.Duration
	Store    *store.Store
	Logger   *slog.Logger
}

// Membership registers a node and keeps its heartbeat fresh until Stop,
// which deregisters it. MongoDB being unreachable is logged and retried at
// the next interval, never fatal: the node keeps working.
type Membership struct {
	cfg   Config
	start time.Time
	inst  string

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewMembership returns the membership of one node; call Start.
func NewMembership(cfg Config) *Membership {
	cfg.Interval = cmp.Or(cfg.Interval, 5*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Membership{cfg: cfg, start: time.Now().UTC(), inst: uuid.NewString()}
}

// Info returns the node's identity for its stats.
func (m *Membership) Info() Info {
	return Info{ID: m.cfg.ID, Role: m.cfg.Role, Address: m.cfg.Address, Version: Version(), StartTime: m.start}
}

func (m *Membership) doc() store.Node {
	return store.Node{ID: m.cfg.ID, Role: m.cfg.Role, Address: m.cfg.Address, Version: Version(), Instance: m.inst, StartTime: m.start}
}

// Start writes the first heartbeat (a failure is only logged) and keeps
// heartbeating in the background.
func (m *Membership) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return nil
	}
	m.started = true
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.done = make(chan struct{})
	m.beat(ctx)
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.beat(ctx)
			}
		}
	}()
	return nil
}

func (m *Membership) beat(ctx context.Context) {
	hctx, cancel := context.WithTimeout(ctx, max(m.cfg.Interval, time.Second))
	defer cancel()
	if err := m.cfg.Store.Heartbeat(hctx, m.doc()); err != nil && ctx.Err() == nil {
		m.cfg.Logger.Warn("node heartbeat failed", "err", err)
	}
}

// Stop ends the heartbeats and deregisters the node (bounded by 2s), so
// cluster queries stop counting it at once. Safe to call twice.
func (m *Membership) Stop() {
	m.mu.Lock()
	if !m.started || m.cancel == nil {
		m.mu.Unlock()
		return
	}
	cancel, done := m.cancel, m.done
	m.cancel = nil
	m.mu.Unlock()
	cancel()
	<-done
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	if err := m.cfg.Store.Deregister(ctx, m.cfg.ID, m.inst); err != nil {
		m.cfg.Logger.Warn("node deregister failed", "err", err)
	}
}

// Info is a node's identity as its stats report it.
type Info struct {
	ID, Role, Address, Version string
	StartTime                  time.Time
}

// Service implements NodeService for one node.
type Service struct {
	clusterv1.UnimplementedNodeServiceServer
	Info Info
	// Tasks returns the node's counters by task type.
	Tasks func() []*clusterv1.TaskStats
	// Partitions returns the Kafka partitions assigned to the node.
	Partitions func() []int32
	// Totals, when set, returns the node's totals; by default they are
	// the sum of Tasks.
	Totals func(byType []*clusterv1.TaskStats) *clusterv1.TaskStats
}

// GetStats implements NodeService.
func (s *Service) GetStats(context.Context, *clusterv1.GetStatsRequest) (*clusterv1.GetStatsResponse, error) {
	return &clusterv1.GetStatsResponse{Stats: s.Stats()}, nil
}

// Stats returns the node's stats now.
func (s *Service) Stats() *clusterv1.NodeStats {
	var byType []*clusterv1.TaskStats
	if s.Tasks != nil {
		byType = s.Tasks()
	}
	var parts []int32
	if s.Partitions != nil {
		parts = s.Partitions()
	}
	totals := Sum("", byType)
	if s.Totals != nil {
		totals = s.Totals(byType)
	}
	return &clusterv1.NodeStats{
		NodeId:             s.Info.ID,
		Role:               RoleProto(s.Info.Role),
		Address:            s.Info.Address,
		Version:            s.Info.Version,
		StartTime:          timestamppb.New(s.Info.StartTime),
		UptimeSeconds:      time.Since(s.Info.StartTime).Seconds(),
		Totals:             totals,
		ByType:             byType,
		AssignedPartitions: parts,
	}
}

// Sum adds up task counters (of one node's types, or of many nodes) under
// the type name typ, recomputing the average.
func Sum(typ string, stats []*clusterv1.TaskStats) *clusterv1.TaskStats {
	t := &clusterv1.TaskStats{Type: typ}
	for _, s := range stats {
		t.Received += s.GetReceived()
		t.Accepted += s.GetAccepted()
		t.Completed += s.GetCompleted()
		t.Failed += s.GetFailed()
		t.InFlight += s.GetInFlight()
		t.TotalTaskSeconds += s.GetTotalTaskSeconds()
	}
	SetAverage(t)
	return t
}

// SetAverage sets AverageTaskSeconds from the total and the finished count.
func SetAverage(t *clusterv1.TaskStats) {
	t.AverageTaskSeconds = 0
	if n := t.Completed + t.Failed; n > 0 {
		t.AverageTaskSeconds = t.TotalTaskSeconds / float64(n)
	}
}

// MergeByType sums per-type counters of several nodes, sorted by type.
func MergeByType(lists ...[]*clusterv1.TaskStats) []*clusterv1.TaskStats {
	groups := map[string][]*clusterv1.TaskStats{}
	for _, l := range lists {
		for _, s := range l {
			groups[s.GetType()] = append(groups[s.GetType()], s)
		}
	}
	out := make([]*clusterv1.TaskStats, 0, len(groups))
	for typ, g := range groups {
		out = append(out, Sum(typ, g))
	}
	slices.SortFunc(out, func(a, b *clusterv1.TaskStats) int { return cmp.Compare(a.Type, b.Type) })
	return out
}

// Partitions holds the partitions assigned to a consumer; safe for
// concurrent use. Set is a queue.ConsumerConfig.OnAssign.
type Partitions struct {
	mu    sync.Mutex
	parts []int32
}

// Set records the partitions of the latest generation.
func (p *Partitions) Set(parts []int) {
	out := make([]int32, 0, len(parts))
	for _, x := range parts {
		out = append(out, int32(min(max(x, 0), 1<<30))) // #nosec G115 -- clamped; partitions are < 10000
	}
	slices.Sort(out)
	p.mu.Lock()
	p.parts = out
	p.mu.Unlock()
}

// Get returns the partitions of the latest generation.
func (p *Partitions) Get() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.parts)
}
