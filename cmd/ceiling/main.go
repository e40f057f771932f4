// Command ceiling measures the raw ceiling of jobplane's write pattern
// (pkg/ceiling) on embedded FerretDB and kfake started in this process with
// the same settings as devstack (`make bench-ceiling`).
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

	"github.com/jobplane/jobplane/pkg/ceiling"
	"github.com/jobplane/jobplane/pkg/embedded"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	cfg := ceiling.Config{Database: "ceiling"}
	fs.IntVar(&cfg.Jobs, "jobs", 2000, "jobs to submit")
	fs.IntVar(&cfg.OpsPerJob, "ops", 10, "operations per job")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent submitters")
	fs.IntVar(&cfg.Workers, "workers", 2, "consumers of the request topic (like servers)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "jobplane-ceiling-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stack, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		return err
	}
	defer stack.Close()
	if err := stack.IndexIDs(ctx, cfg.Database, ceiling.Collections); err != nil {
		return err
	}
	cfg.MongoURI, cfg.Brokers = stack.MongoURI(), stack.KafkaBrokers()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := ceiling.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("raw ceiling: %d operations (%d jobs of %d, %d submitters, %d workers) in %.2fs (all submitted after %.2fs) = %.0f operations/s\n",
		res.Operations, cfg.Jobs, cfg.OpsPerJob, cfg.Concurrency, cfg.Workers, res.Seconds, res.SubmitSeconds, res.OpsPerSecond)
	return nil
}
