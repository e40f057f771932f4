package cluster_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/cluster"
	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/store"
	"google.golang.org/grpc"
)

// serve runs a NodeService reporting tasks and returns its address.
func serve(t *testing.T, id string, tasks ...*clusterv1.TaskStats) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	clusterv1.RegisterNodeServiceServer(s, &nodes.Service{
		Info:  nodes.Info{ID: id, Role: nodes.RoleServer, Address: lis.Addr().String(), StartTime: time.Now()},
		Tasks: func() []*clusterv1.TaskStats { return tasks },
	})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// hanging accepts connections and never answers.
func hanging(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return lis.Addr().String()
}

// closedAddr is an address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func TestStats(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a := serve(t, "server-0", &clusterv1.TaskStats{Type: "expr", Received: 10, Accepted: 10, Completed: 8, Failed: 2, TotalTaskSeconds: 1})
	b := serve(t, "server-1", &clusterv1.TaskStats{Type: "expr", Received: 5, Accepted: 5, Completed: 5, TotalTaskSeconds: 4},
		&clusterv1.TaskStats{Type: "encrypt", Received: 1, Accepted: 1, InFlight: 1})
	tests := []struct {
		name                string
		nodes               []store.Node
		wantTotal, wantResp int32
		wantPartial         bool
		wantCompleted       int64
		wantAvg             float64
		wantTypes           int
		maxDuration         time.Duration
	}{
		{name: "all answer", nodes: []store.Node{
			{ID: "server-0", Role: "server", Address: a, HeartbeatTime: now},
			{ID: "server-1", Role: "server", Address: b, HeartbeatTime: now},
		}, wantTotal: 2, wantResp: 2, wantCompleted: 13, wantAvg: 5.0 / 15, wantTypes: 2},
		{name: "expired node not asked", nodes: []store.Node{
			{ID: "server-0", Role: "server", Address: a, HeartbeatTime: now},
			{ID: "gone", Role: "server", Address: closedAddr(t), HeartbeatTime: now.Add(-time.Hour)},
		}, wantTotal: 1, wantResp: 1, wantCompleted: 8, wantAvg: 0.1, wantTypes: 1},
		{name: "killed node makes it partial", nodes: []store.Node{
			{ID: "server-0", Role: "server", Address: a, HeartbeatTime: now},
			{ID: "server-1", Role: "server", Address: closedAddr(t), HeartbeatTime: now},
		}, wantTotal: 2, wantResp: 1, wantPartial: true, wantCompleted: 8, wantAvg: 0.1, wantTypes: 1},
		{name: "hanging node bounded by the deadline", nodes: []store.Node{
			{ID: "server-0", Role: "server", Address: a, HeartbeatTime: now},
			{ID: "server-1", Role: "server", Address: hanging(t), HeartbeatTime: now},
		}, wantTotal: 2, wantResp: 1, wantPartial: true, wantCompleted: 8, wantAvg: 0.1, wantTypes: 1, maxDuration: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := cluster.New(cluster.Config{
				Nodes:   func(context.Context) ([]store.Node, error) { return tt.nodes, nil },
				Timeout: 500 * time.Millisecond,
			})
			defer q.Close()
			start := time.Now()
			resp, err := q.Stats(t.Context(), "tok")
			if err != nil {
				t.Fatal(err)
			}
			if tt.maxDuration > 0 && time.Since(start) > tt.maxDuration {
				t.Errorf("took %s", time.Since(start))
			}
			if resp.TotalNodes != tt.wantTotal || resp.RespondingNodes != tt.wantResp || resp.IsPartial != tt.wantPartial {
				t.Errorf("total %d responding %d partial %v, want %d %d %v", resp.TotalNodes, resp.RespondingNodes, resp.IsPartial, tt.wantTotal, tt.wantResp, tt.wantPartial)
			}
			if resp.Totals.Completed != tt.wantCompleted {
				t.Errorf("completed %d, want %d", resp.Totals.Completed, tt.wantCompleted)
			}
			if d := resp.Totals.AverageTaskSeconds - tt.wantAvg; d > 1e-9 || d < -1e-9 {
				t.Errorf("average %g, want %g", resp.Totals.AverageTaskSeconds, tt.wantAvg)
			}
			if len(resp.ByType) != tt.wantTypes {
				t.Errorf("by type %v", resp.ByType)
			}
			for _, e := range resp.Nodes {
				if !e.Responding && e.Error == "" {
					t.Errorf("node %s not responding without an error", e.NodeId)
				}
			}
		})
	}
}
