// Package server is the server service: a pool of consumers of the request
// topic that runs each operation's handler and publishes its result.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jobplane/jobplane/pkg/handler"
	"github.com/jobplane/jobplane/pkg/nodes"
	"github.com/jobplane/jobplane/pkg/profiling"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/telemetry"
)

// Run runs the server service until ctx ends, then shuts down in order:
// not ready, stop fetching, finish in-flight handlers (bounded by
// SHUTDOWN_TIMEOUT), publish their results and commit, close the reader,
// then the writer.
func Run(ctx context.Context, cfg Config) error {
	log, err := telemetry.ServiceLogger(cfg.Logger, cfg.LogFormat, cfg.LogLevel, "server-application", cfg.NodeID)
	if err != nil {
		return err
	}
	metrics := telemetry.NewMetrics()
	if err := profiling.Serve(ctx, cfg.PprofAddr, log); err != nil {
		return fmt.Errorf("PPROF_ADDR %s: %w", cfg.PprofAddr, err)
	}
	// Tracing (OTEL_* variables, off without an endpoint). Deferred first
	// so that the flush is the last step of the shutdown.
	tracing, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{ServiceName: "server-application", InstanceID: cfg.NodeID, Logger: log})
	if err != nil {
		return err
	}
	defer tracing.FlushOnReturn(ctx, cfg.ShutdownTimeout, log)()

	registry := cfg.Handlers
	if registry == nil {
		var err error
		if registry, err = handler.Builtins(cfg.EncryptKey); err != nil {
			return err
		}
	}

	tlsCfg, err := cfg.TLS.Load()
	if err != nil {
		return err
	}
	kafkaConn, err := cfg.Kafka.Conn()
	if err != nil {
		return err
	}
	if err := queue.EnsureTopics(ctx, kafkaConn.Dialer, cfg.Kafka.Brokers, cfg.Kafka.Topics()...); err != nil {
		return fmt.Errorf("kafka topics: %w", err)
	}
	writer := queue.NewWriter(cfg.Kafka.Writer(kafkaConn))
	defer func() {
		if err := writer.Close(); err != nil {
			log.Warn("kafka writer close", "err", err)
		}
	}()

	p := &pool{cfg: &cfg, registry: registry, writer: writer, metrics: metrics, log: log,
		sem: make(chan struct{}, cfg.Concurrency), backoffBase: 100 * time.Millisecond, tracing: tracing}
	p.start()
	defer p.stop() // after consumer.Stop below: no batch is being handled then
	ccfg := cfg.Kafka.ConsumerFor(cfg.RequestGroup, cfg.Kafka.RequestTopic)
	ccfg.Logger = log
	ccfg.Dialer = kafkaConn.Dialer
	ccfg.ShutdownTimeout = cfg.ShutdownTimeout
	ccfg.Lag = metrics
	assignedParts := &nodes.Partitions{} // reported by NodeService and /readyz
	ccfg.OnAssign = assignedParts.Set
	consumer := queue.NewConsumer(ccfg, p.handle)

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, nodes.ReadyText(len(assignedParts.Get())))
	})
	admin := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	lis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("ADMIN_ADDR %s: %w", cfg.AdminAddr, err)
	}
	if tlsCfg != nil {
		lis = tls.NewListener(lis, tlsCfg.Server())
	}
	errc := make(chan error, 1)
	go func() {
		if err := admin.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()

	// MongoDB, NodeService, membership, metric aggregation (nodes.go).
	ext, err := startExtras(ctx, &cfg, tlsCfg, kafkaConn, metrics, tracing, p, assignedParts, log)
	if err != nil {
		return err
	}
	defer ext.stop()
	if err := consumer.Start(ctx); err != nil {
		return err
	}
	ready.Store(true)
	log.Info("server service started", "admin_addr", lis.Addr().String(), "admin_tls", tlsCfg != nil, "admin_mtls", tlsCfg.MutualTLS(),
		"kafka_tls", cfg.Kafka.Security.TLS, "kafka_sasl", cfg.Kafka.Security.SASLMechanism, "concurrency", cfg.Concurrency,
		"types", registry.Types(), "request_topic", cfg.Kafka.RequestTopic, "group", cfg.RequestGroup)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		log.Error("admin listener failed", "err", runErr)
	}
	log.Info("server service stopping")
	ready.Store(false)
	ext.stop() // deregister first, then stop NodeService and the metric aggregator
	consumer.Stop()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = admin.Shutdown(shutdownCtx)
	log.Info("server service stopped")
	return runErr
}
