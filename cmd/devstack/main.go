// Command devstack runs the whole platform on one machine (`make run`):
// embedded FerretDB and kfake, plus the client and server services as child
// processes.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof" // #nosec G108 -- served only with --pprof-addr, see below
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/jobplane/jobplane/pkg/devstack"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

// tuneGC makes the collector run less often in this process, which hosts
// the embedded engines: FerretDB and modernc's SQLite allocate heavily per
// request, and at Go's default (GOGC=100) the collector took about a tenth
// of this process's CPU under W1. At 400 this process used about 8 % less
// CPU in W1 (BENCHMARKS.md), for more memory, which a soft limit of 1 GiB
// caps. GOGC and GOMEMLIMIT in the environment take precedence. The
// services (child processes) keep Go's GOGC and get a soft memory limit of
// their own (pkg/devstack).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

func run(ctx context.Context, args []string) error {
	exe, _ := os.Executable()
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	cfg := devstack.Config{Restart: true}
	fs.StringVar(&cfg.DataDir, "data-dir", "./.jobplane", "where Kafka and MongoDB keep their data")
	fs.IntVar(&cfg.Clients, "clients", 1, "client service instances")
	fs.IntVar(&cfg.Servers, "servers", 2, "server service instances")
	fs.StringVar(&cfg.BinDir, "bin-dir", filepath.Dir(exe), "directory holding the client and server binaries")
	fs.IntVar(&cfg.MongoPort, "mongo-port", 27017, "FerretDB port")
	fs.IntVar(&cfg.KafkaPort, "kafka-port", 9092, "first Kafka broker port (3 brokers)")
	fs.IntVar(&cfg.GRPCPort, "grpc-port", 50051, "gRPC port of client 0 (client i: +i)")
	fs.IntVar(&cfg.HTTPPort, "http-port", 8080, "REST port of client 0 (client i: +i)")
	fs.IntVar(&cfg.AdminPort, "admin-port", 8090, "admin port of server 0 (server i: +i)")
	fs.IntVar(&cfg.ServerGRPCPort, "server-grpc-port", 50061, "NodeService gRPC port of server 0 (server i: +i); 0: any free port")
	fs.StringVar(&cfg.Token, "token", devstack.DefaultToken, "bearer token accepted by the services")
	fs.BoolVar(&cfg.Restart, "restart", true, "restart a service that exits")
	fs.BoolVar(&cfg.TLS, "tls", false, "mutual TLS 1.3 on the services' gRPC, REST and admin ports, with dev certificates generated once into <data-dir>/tls")
	fs.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "send the services' traces to this OTLP/gRPC collector (e.g. localhost:4317: Jaeger); sets OTEL_EXPORTER_OTLP_ENDPOINT")
	pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof of the embedded servers on this address (e.g. 127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		// Opt-in, local profiling of the embedded servers.
		pprof := &http.Server{Addr: *pprofAddr, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = pprof.ListenAndServe() }()
	}
	if cfg.Clients < 0 || cfg.Servers < 0 {
		return fmt.Errorf("--clients and --servers must not be negative")
	}
	return devstack.Run(ctx, cfg)
}
