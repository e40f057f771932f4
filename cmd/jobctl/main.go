// Command jobctl is the jobplane CLI. `jobctl bench` runs a load test
// against a client service over gRPC.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jobplane/jobplane/pkg/bench"
	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jobctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "bench" {
		return fmt.Errorf("usage: jobctl bench [flags]  (see jobctl bench -h)")
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:50051", "gRPC address of a client service")
	token := fs.String("token", envOr("JOBPLANE_TOKEN", "local-dev-token-123"), "bearer token (JOBPLANE_TOKEN)")
	cfg := bench.Config{}
	fs.IntVar(&cfg.Jobs, "jobs", 2000, "jobs to submit")
	fs.IntVar(&cfg.OpsPerJob, "ops", 10, "operations per job")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent callers")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg.Token = *token
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := bench.Run(ctx, jobsv1.NewJobServiceClient(conn), cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	res.WriteTable(os.Stdout)
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
