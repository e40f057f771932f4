package e2e

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clusterStats is the REST shape of GET /v1/cluster/stats.
type clusterStats struct {
	Nodes []struct {
		NodeID     string `json:"node_id"`
		Role       string `json:"role"`
		Address    string `json:"address"`
		Responding bool   `json:"responding"`
		Error      string `json:"error"`
		Stats      *struct {
			Totals struct {
				Completed string `json:"completed"`
			} `json:"totals"`
			AssignedPartitions []int `json:"assigned_partitions"`
		} `json:"stats"`
	} `json:"nodes"`
	Totals struct {
		Completed string `json:"completed"`
	} `json:"totals"`
	IsPartial       bool `json:"is_partial"`
	TotalNodes      int  `json:"total_nodes"`
	RespondingNodes int  `json:"responding_nodes"`
}

func (s *stack) clusterStats(t *testing.T) clusterStats {
	t.Helper()
	r := s.do(t, "GET", "/v1/cluster/stats", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("cluster stats: %d %s", r.status, r.body)
	}
	var cs clusterStats
	r.json(t, &cs)
	return cs
}

// awaitCluster polls the cluster stats until ok accepts them.
func (s *stack) awaitCluster(t *testing.T, timeout time.Duration, ok func(clusterStats) bool) clusterStats {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		cs := s.clusterStats(t)
		if ok(cs) {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster stats not as expected after %s: %+v", timeout, cs)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

func serversResponding(cs clusterStats) int {
	n := 0
	for _, e := range cs.Nodes {
		if e.Role == "NODE_ROLE_SERVER" && e.Responding {
			n++
		}
	}
	return n
}

// With 1 client and 2 servers every node answers; after a SIGKILL of a
// server (devstack does not restart it), the answer is partial, with one
// node less responding, and comes within the deadline.
func TestClusterStatsPartialAfterKill(t *testing.T) {
	t.Parallel()
	s := startStackArgs(t, 1, 2, []string{"--restart=false"})
	// Some work so the counters move.
	j := s.createText(t, "1 + 2\n3 * 4\n")
	s.awaitJob(t, j.ID, time.Minute)
	cs := s.awaitCluster(t, 30*time.Second, func(cs clusterStats) bool {
		return cs.TotalNodes == 3 && cs.RespondingNodes == 3 && serversResponding(cs) == 2
	})
	if cs.IsPartial {
		t.Fatalf("complete answer marked partial: %+v", cs)
	}
	// Unauthenticated is refused.
	if r := s.do(t, "GET", "/v1/cluster/stats", "", nil, "-"); r.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d %s", r.status, r.body)
	}

	pid := s.childPID(t, "server-1")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cs = s.awaitCluster(t, 10*time.Second, func(cs clusterStats) bool { return cs.IsPartial })
	if cs.TotalNodes != 3 || cs.RespondingNodes != 2 || serversResponding(cs) != 1 {
		t.Errorf("after SIGKILL: total %d responding %d: %+v", cs.TotalNodes, cs.RespondingNodes, cs)
	}
	for _, e := range cs.Nodes {
		if e.NodeID == "server-1" && (e.Responding || e.Error == "") {
			t.Errorf("server-1 after SIGKILL: %+v", e)
		}
	}
	// A single query is bounded by the deadline (2s) even now.
	q := time.Now()
	_ = s.clusterStats(t)
	if d := time.Since(q); d > 5*time.Second {
		t.Errorf("a partial query took %s", d)
	}
	t.Logf("partial after %s", time.Since(start))
}

// childPID finds the pid of a devstack child by the NODE_ID in its
// environment (Linux /proc).
func (s *stack) childPID(t *testing.T, nodeID string) int {
	t.Helper()
	pids, err := childPIDs(s.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		env, err := readEnviron(pid)
		if err == nil && strings.Contains(env, "\x00NODE_ID="+nodeID+"\x00") {
			return pid
		}
	}
	t.Fatalf("no child with NODE_ID=%s among %v", nodeID, pids)
	return 0
}
