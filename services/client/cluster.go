package client

import (
	"context"
	"log/slog"
	"net"

	"github.com/jobplane/jobplane/pkg/auth"
	"github.com/jobplane/jobplane/pkg/cluster"
	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	metricsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/metrics/v1"
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
	"github.com/segmentio/kafka-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// extras are the client's parts beyond JobService: its node membership and
// NodeService, the ClusterService fan-out and the MetricService.
type extras struct {
	cfg        *Config
	store      *store.Store
	log        *slog.Logger
	recorder   *nodes.Recorder
	partitions *nodes.Partitions
	querier    *cluster.Querier
	metrics    *metricService
	node       *nodes.Service
	membership *nodes.Membership
}

func newExtras(cfg *Config, st *store.Store, writer *kafka.Writer, conn queue.Conn, tlsCfg *tlsconfig.Config, log *slog.Logger) *extras {
	var creds credentials.TransportCredentials
	if tlsCfg != nil {
		// Nodes share the service certificate (as devstack's do): the
		// fan-out presents it and pins it, like the REST gateway.
		creds = credentials.NewTLS(tlsCfg.Loopback())
	}
	e := &extras{cfg: cfg, store: st, log: log, recorder: nodes.NewRecorder(), partitions: &nodes.Partitions{}}
	e.querier = cluster.New(cluster.Config{Nodes: st.ListNodes, TTL: cfg.Nodes.TTL, Timeout: cfg.ClusterTimeout, Creds: creds, Logger: log})
	e.metrics = newMetricService(cfg, st, writer, conn, log)
	e.node = &nodes.Service{Tasks: e.recorder.Tasks, Partitions: e.partitions.Get}
	return e
}

// register adds NodeService, ClusterService and MetricService to s.
func (e *extras) register(s *grpc.Server) {
	clusterv1.RegisterNodeServiceServer(s, e.node)
	clusterv1.RegisterClusterServiceServer(s, &clusterService{querier: e.querier})
	metricsv1.RegisterMetricServiceServer(s, e.metrics)
}

// start registers the node under the address its gRPC listener got.
func (e *extras) start(ctx context.Context, grpcAddr net.Addr) error {
	e.membership = nodes.NewMembership(nodes.Config{
		ID: e.cfg.NodeID, Role: nodes.RoleClient, Address: e.cfg.Nodes.AdvertiseAddr(grpcAddr),
		Interval: e.cfg.Nodes.Interval, Store: e.store, Logger: e.log,
	})
	e.node.Info = e.membership.Info()
	return e.membership.Start(ctx)
}

// stop deregisters the node and closes the fan-out connections; safe to
// call twice.
func (e *extras) stop() {
	if e.membership != nil {
		e.membership.Stop()
	}
	e.querier.Close()
}

// clusterService implements ClusterService over the fan-out.
type clusterService struct {
	clusterv1.UnimplementedClusterServiceServer
	querier *cluster.Querier
}

func (s *clusterService) GetClusterStats(ctx context.Context, _ *clusterv1.GetClusterStatsRequest) (*clusterv1.GetClusterStatsResponse, error) {
	// The caller's token is valid here (the interceptor checked it) and every
	// node accepts the same AUTH_TOKENS.
	tok, _ := auth.FromContext(ctx)
	return s.querier.Stats(ctx, tok)
}
