// Package client is the client service: it accepts jobs over gRPC and REST,
// stores them in MongoDB, publishes their operations to Kafka, and applies
// the results that servers publish back.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jobplane/jobplane/pkg/auth"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/profiling"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// maxGRPCMessage bounds gRPC messages in both directions.
const maxGRPCMessage = 16 << 20

// streamWorkers is the number of goroutines that serve gRPC calls and are
// kept between calls: a goroutine per call starts with a small stack, and
// growing it (copystack) cost 6 % of the client service's CPU in W1. A call
// that finds every worker busy (the handlers wait for group commits) gets a
// goroutine of its own, as without workers.
const streamWorkers = 256

// publishSlots bounds the publishes of new jobs running in the background
// (jobService.publishLater).
const publishSlots = 1024

// Run runs the client service until ctx ends, then shuts down in order:
// health NOT_SERVING, stop accepting calls (graceful), stop consuming
// results (finishing and committing the in-flight batch), close the
// producer, disconnect MongoDB.
func Run(ctx context.Context, cfg Config) error {
	log, err := telemetry.ServiceLogger(cfg.Logger, cfg.LogFormat, cfg.LogLevel, "client-application", cfg.NodeID)
	if err != nil {
		return err
	}
	metrics := telemetry.NewMetrics()
	if err := profiling.Serve(ctx, cfg.PprofAddr, log); err != nil {
		return fmt.Errorf("PPROF_ADDR %s: %w", cfg.PprofAddr, err)
	}
	// Tracing (OTEL_* variables, off without an endpoint). Deferred first
	// so that the flush is the last step of the shutdown.
	tracing, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{ServiceName: "client-application", InstanceID: cfg.NodeID, Logger: log})
	if err != nil {
		return err
	}
	defer tracing.FlushOnReturn(ctx, cfg.ShutdownTimeout, log)()
	tlsCfg, err := cfg.TLS.Load()
	if err != nil {
		return err
	}
	kafkaConn, err := cfg.Kafka.Conn()
	if err != nil {
		return err
	}

	st, err := store.Open(ctx, store.Config{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Monitor: telemetry.MongoMonitor(tracing),
		SingleOperationDocs:  cfg.OperationDocuments == "single",
		OutcomesPerOperation: cfg.OutcomeDocuments == "operation", Outbox: outboxLayouts[cfg.OutboxEntries],
		Writes: metrics})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("mongodb disconnect", "err", err)
		}
	}()

	if err := queue.EnsureTopics(ctx, kafkaConn.Dialer, cfg.Kafka.Brokers, cfg.Kafka.Topics()...); err != nil {
		return fmt.Errorf("kafka topics: %w", err)
	}

	writer := queue.NewWriter(cfg.Kafka.Writer(kafkaConn))
	defer func() {
		if err := writer.Close(); err != nil {
			log.Warn("kafka writer close", "err", err)
		}
	}()

	// The cleaner deletes the outbox entries of published jobs and the
	// jobs the applier archived from jobs_active; it stops after both.
	cleaner := newCleaner(st, log)
	defer cleaner.Stop()
	st.DeferRetire(func(ctx context.Context, j *store.Job) { cleaner.Add(ctx, cleanup{retired: j}) })

	pub := &publisher{writer: writer, topic: cfg.Kafka.RequestTopic, responseTopic: cfg.Kafka.ResponseTopic, store: st, metrics: metrics, log: log, tracing: tracing}
	svc := &jobService{cfg: &cfg, store: st, publisher: pub, metrics: metrics, log: log, watchInterval: 200 * time.Millisecond,
		creates: newCreateBatcher(st, metrics), cleaner: cleaner, publishSlots: make(chan struct{}, publishSlots)}
	defer svc.creates.Stop()

	rel := newRelay(cfg.Relay, st, pub, metrics, log, cfg.NodeID)

	app := &applier{store: st, topic: cfg.Kafka.ResponseTopic, group: cfg.ResponseGroup, metrics: metrics, log: log, tracing: tracing,
		applies: newApplyBatcher(st, metrics)}
	defer app.applies.Stop()
	ccfg := cfg.Kafka.ConsumerFor(cfg.ResponseGroup, cfg.Kafka.ResponseTopic)
	ccfg.Logger = log
	ccfg.Dialer = kafkaConn.Dialer
	ccfg.ShutdownTimeout = cfg.ShutdownTimeout
	ccfg.Lag = metrics
	ext := newExtras(&cfg, st, writer, kafkaConn, tlsCfg, log) // nodes, cluster, metrics (cluster.go)
	ccfg.OnAssign = ext.partitions.Set
	consumer := queue.NewConsumer(ccfg, app.handle)

	// gRPC.
	tokens := auth.NewTokens(cfg.AuthTokens)
	protected := auth.ServicePrefix("/jobplane.")
	limiter := auth.NewRateLimiter(cfg.RateLimit, cfg.RateLimitBurst) // nil: no limit
	// Without TLS_CERT plaintext; with it TLS 1.3 (and mutual TLS with
	// TLS_CLIENT_CA), the gateway below presenting the service certificate.
	serverCreds, gatewayCreds := insecure.NewCredentials(), insecure.NewCredentials()
	if tlsCfg != nil {
		serverCreds, gatewayCreds = credentials.NewTLS(tlsCfg.Server()), credentials.NewTLS(tlsCfg.Loopback())
	}
	grpcServer := grpc.NewServer(append(tracing.GRPCServerOptions(),
		grpc.Creds(serverCreds),
		grpc.MaxRecvMsgSize(maxGRPCMessage),
		grpc.MaxSendMsgSize(maxGRPCMessage),
		grpc.NumStreamWorkers(streamWorkers),
		grpc.ChainUnaryInterceptor(ext.recorder.UnaryInterceptor(protected), errorUnaryInterceptor(log), tokens.UnaryInterceptor(protected),
			limiter.UnaryInterceptor(protected), auth.MaxInflight(cfg.MaxInflight, protected)),
		grpc.ChainStreamInterceptor(ext.recorder.StreamInterceptor(protected), errorStreamInterceptor(log), tokens.StreamInterceptor(protected), limiter.StreamInterceptor(protected)),
	)...)
	jobsv1.RegisterJobServiceServer(grpcServer, svc)
	ext.register(grpcServer)
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(grpcServer, healthSrv)
	reflection.Register(grpcServer)
	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR %s: %w", cfg.GRPCAddr, err)
	}

	// REST gateway, dialing this very gRPC server.
	conn, err := grpc.NewClient(loopback(grpcLis.Addr()), append(tracing.GRPCDialOptions(),
		grpc.WithTransportCredentials(gatewayCreds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxGRPCMessage), grpc.MaxCallSendMsgSize(maxGRPCMessage)))...)
	if err != nil {
		return fmt.Errorf("gateway connection: %w", err)
	}
	defer conn.Close()
	gw, err := newGateway(ctx, conn, cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var ready atomic.Bool
	httpMux := http.NewServeMux()
	rest := tracing.HTTPHandler(gw, "rest")
	httpMux.Handle("/v1/", rest)
	httpMux.Handle("/metrics", metrics.Handler())
	httpMux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	httpMux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if !ready.Load() {
			http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
			return
		}
		if err := st.Ping(pctx); err != nil {
			http.Error(w, "mongodb unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	// /ui/ (web dashboard), /docs/ (Swagger UI), / redirects to /ui/ (ui.go).
	mountUI(httpMux, uiConfig{JaegerUIURL: cfg.JaegerUIURL, TraceService: cfg.TraceService})
	httpMux.Handle("/", rest) // unknown routes get the gateway's 404 Status body
	httpServer := &http.Server{Handler: httpMux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		_ = grpcLis.Close()
		return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	if tlsCfg != nil {
		httpLis = tls.NewListener(httpLis, tlsCfg.Server())
	}

	if err := consumer.Start(ctx); err != nil {
		return err
	}
	defer consumer.Stop()
	if err := rel.Start(ctx); err != nil {
		return err
	}
	defer rel.Stop()
	if err := ext.start(ctx, grpcLis.Addr()); err != nil {
		return err
	}
	defer ext.stop()

	errc := make(chan error, 2)
	go func() { errc <- grpcServer.Serve(grpcLis) }()
	go func() {
		if err := httpServer.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthSrv.SetServingStatus(jobsv1.JobService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	ready.Store(true)
	log.Info("client service started", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String(),
		"tls", tlsCfg != nil, "mtls", tlsCfg.MutualTLS(), "rate_limit", cfg.RateLimit, "max_inflight", cfg.MaxInflight,
		"kafka_tls", cfg.Kafka.Security.TLS, "kafka_sasl", cfg.Kafka.Security.SASLMechanism,
		"kafka_brokers", cfg.Kafka.Brokers, "request_topic", cfg.Kafka.RequestTopic, "response_topic", cfg.Kafka.ResponseTopic)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		log.Error("listener failed", "err", runErr)
	}

	log.Info("client service stopping")
	ready.Store(false)
	ext.stop()           // deregister first: cluster queries stop asking this node
	healthSrv.Shutdown() // NOT_SERVING
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	stopped := make(chan struct{})
	go func() { grpcServer.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		grpcServer.Stop()
	}
	// The background publishes of the last calls and the relay publish
	// through the writer: let them end before the deferred writer close
	// (then MongoDB disconnects).
	svc.waitPublishes()
	consumer.Stop()
	rel.Stop()
	log.Info("client service stopped")
	return runErr
}

// loopback turns a listener address such as [::]:50051 into one to dial.
func loopback(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
		}
	}
	return addr.String()
}
