package server

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/jobplane/jobplane/pkg/auth"
	clusterv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/cluster/v1"
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// extras are the server's parts beyond the handler pool: its MongoDB
// connection, node membership, NodeService on GRPC_ADDR, and the metric
// aggregator (a consumer of the metric topic).
type extras struct {
	log        *slog.Logger
	store      *store.Store
	grpc       *grpc.Server
	membership *nodes.Membership
	consumer   *queue.Consumer
	stopped    bool
}

// startExtras connects to MongoDB lazily (a MongoDB outage only delays
// heartbeats and metric aggregation; the pool keeps running), serves
// NodeService, registers the node and starts aggregating metrics.
func startExtras(ctx context.Context, cfg *Config, tlsCfg *tlsconfig.Config, kafkaConn queue.Conn,
	metrics *telemetry.Metrics, tracing *telemetry.Tracing, p *pool, parts *nodes.Partitions, log *slog.Logger) (*extras, error) {
	st, err := store.Open(ctx, store.Config{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Lazy: true, Monitor: telemetry.MongoMonitor(tracing),
		Writes: metrics})
	if err != nil {
		return nil, fmt.Errorf("MONGODB_URI: %w", err)
	}
	e := &extras{log: log, store: st}

	lis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		_ = st.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("GRPC_ADDR %s: %w", cfg.GRPCAddr, err)
	}
	if len(cfg.AuthTokens) == 0 {
		log.Warn("AUTH_TOKENS is empty: NodeService refuses every call, so cluster queries report this node as not responding")
	}
	tokens := auth.NewTokens(cfg.AuthTokens)
	protected := auth.ServicePrefix("/jobplane.")
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(tokens.UnaryInterceptor(protected)),
		grpc.ChainStreamInterceptor(tokens.StreamInterceptor(protected)),
	}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg.Server())))
	}
	e.grpc = grpc.NewServer(opts...)
	e.membership = nodes.NewMembership(nodes.Config{
		ID: cfg.NodeID, Role: nodes.RoleServer, Address: cfg.Nodes.AdvertiseAddr(lis.Addr()),
		Interval: cfg.Nodes.Interval, Store: st, Logger: log,
	})
	stats := &poolStats{metrics: metrics, pool: p, topic: cfg.Kafka.RequestTopic}
	clusterv1.RegisterNodeServiceServer(e.grpc, &nodes.Service{
		Info: e.membership.Info(), Tasks: stats.tasks, Totals: stats.totals, Partitions: parts.Get,
	})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(e.grpc, hs)
	reflection.Register(e.grpc)
	go func() { _ = e.grpc.Serve(lis) }()

	agg := &metricAggregator{store: st, topic: cfg.Kafka.MetricTopic, metrics: metrics, log: log}
	ccfg := cfg.Kafka.ConsumerFor(cfg.MetricGroup, cfg.Kafka.MetricTopic)
	ccfg.Logger = log
	ccfg.Dialer = kafkaConn.Dialer
	ccfg.ShutdownTimeout = cfg.ShutdownTimeout
	e.consumer = queue.NewConsumer(ccfg, agg.handle)
	if err := e.consumer.Start(ctx); err != nil {
		e.stop()
		return nil, err
	}
	if err := e.membership.Start(ctx); err != nil {
		e.stop()
		return nil, err
	}
	log.Info("node registered", "grpc_addr", lis.Addr().String(), "address", e.membership.Info().Address, "metric_topic", cfg.Kafka.MetricTopic)
	return e, nil
}

// stop deregisters the node, stops NodeService and the metric aggregator,
// and disconnects MongoDB. Safe to call twice.
func (e *extras) stop() {
	if e.stopped {
		return
	}
	e.stopped = true
	e.membership.Stop()
	done := make(chan struct{})
	go func() { e.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		e.grpc.Stop()
	}
	if e.consumer != nil {
		e.consumer.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.store.Close(ctx); err != nil {
		e.log.Warn("mongodb disconnect", "err", err)
	}
}

// poolStats derives the server's NodeService counters from its Prometheus
// metrics (operations received on the request topic, handler time by type
// and outcome) and the handlers running now.
type poolStats struct {
	metrics *telemetry.Metrics
	pool    *pool
	topic   string
}

func (s *poolStats) families() map[string]*dto.MetricFamily {
	fams, _ := s.metrics.Registry.Gather()
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// tasks are the handler counters by operation type.
func (s *poolStats) tasks() []*clusterv1.TaskStats {
	byType := map[string]*clusterv1.TaskStats{}
	for _, m := range s.families()["jobplane_operation_processing_seconds"].GetMetric() {
		typ := label(m, "type")
		t := byType[typ]
		if t == nil {
			t = &clusterv1.TaskStats{Type: typ}
			byType[typ] = t
		}
		n := int64(min(m.GetHistogram().GetSampleCount(), 1<<62)) // #nosec G115 -- clamped
		if label(m, "outcome") == "succeeded" {
			t.Completed += n
		} else {
			t.Failed += n
		}
		t.TotalTaskSeconds += m.GetHistogram().GetSampleSum()
	}
	out := make([]*clusterv1.TaskStats, 0, len(byType))
	for _, t := range byType {
		t.Received, t.Accepted = t.Completed+t.Failed, t.Completed+t.Failed
		nodes.SetAverage(t)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *clusterv1.TaskStats) int { return cmp.Compare(a.Type, b.Type) })
	return out
}

// totals add the requests received and undecodable from the consumer
// counters, and the handlers in flight.
func (s *poolStats) totals(byType []*clusterv1.TaskStats) *clusterv1.TaskStats {
	t := nodes.Sum("", byType)
	fams := s.families()
	counter := func(name string) int64 {
		for _, m := range fams[name].GetMetric() {
			if label(m, "topic") == s.topic {
				return int64(m.GetCounter().GetValue())
			}
		}
		return 0
	}
	t.InFlight = int64(len(s.pool.sem))
	t.Received = max(counter("consumer_messages_received_total"), t.Completed+t.Failed+t.InFlight)
	t.Accepted = max(t.Received-counter("consumer_messages_error_total"), 0)
	return t
}
