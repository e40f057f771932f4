// Command ceiling measures the raw ceiling of jobplane's write pattern
// (pkg/ceiling) on embedded FerretDB and kfake started in this process with
// the same settings as devstack (`make bench-ceiling`).
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jobplane/jobplane/pkg/ceiling"
	"github.com/jobplane/jobplane/pkg/devstack"
	"github.com/jobplane/jobplane/pkg/embedded"
	"github.com/jobplane/jobplane/pkg/queue"
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
	// jobplane's topics: on the fresh stack of each run, their kfake logs
	// are preallocated, as devstack does for the services.
	cfg := ceiling.Config{Database: "jobplane", RequestTopic: queue.RequestTopic, ResponseTopic: queue.ResponseTopic}
	fs.IntVar(&cfg.Jobs, "jobs", 2000, "jobs to submit")
	fs.IntVar(&cfg.OpsPerJob, "ops", 10, "operations per job")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent submitters")
	fs.IntVar(&cfg.Workers, "workers", 2, "consumers of the request topic (like servers)")
	runs := fs.Int("runs", 1, "run the workload this many times, each on a fresh stack, and report every run and the median")
	asJSON := fs.Bool("json", false, "print the result as JSON (with --runs > 1: the median run)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after (per run)")
	devstackBin := fs.String("devstack", "", "run the engines in a devstack process started from this binary with no services (as jobplane's benchmarks do), instead of in this process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 {
		return fmt.Errorf("--runs %d: must be at least 1", *runs)
	}
	var results []*ceiling.Result
	for range *runs {
		res, err := once(ctx, cfg, *timeout, *devstackBin)
		if err != nil {
			return err
		}
		results = append(results, res)
		if !*asJSON {
			fmt.Printf("raw ceiling: %d operations (%d jobs of %d, %d submitters, %d workers) in %.2fs (all submitted after %.2fs) = %.0f operations/s\n",
				res.Operations, cfg.Jobs, cfg.OpsPerJob, cfg.Concurrency, cfg.Workers, res.Seconds, res.SubmitSeconds, res.OpsPerSecond)
		}
	}
	slices.SortFunc(results, func(a, b *ceiling.Result) int { return cmp.Compare(a.OpsPerSecond, b.OpsPerSecond) })
	median := results[len(results)/2]
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(median)
	}
	if *runs > 1 {
		fmt.Printf("raw ceiling: median of %d runs %.0f operations/s (min %.0f, max %.0f)\n",
			*runs, median.OpsPerSecond, results[0].OpsPerSecond, results[len(results)-1].OpsPerSecond)
	}
	return nil
}

// once runs the workload on fresh engines: embedded in this process, or
// in a devstack process (devstackBin).
func once(ctx context.Context, cfg ceiling.Config, timeout time.Duration, devstackBin string) (*ceiling.Result, error) {
	dir, err := os.MkdirTemp("", "jobplane-ceiling-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if devstackBin != "" {
		stop, err := startDevstack(ctx, devstackBin, dir, &cfg)
		if err != nil {
			return nil, err
		}
		defer stop()
	} else {
		// As devstack does: the topics with their logs preallocated.
		stack, err := embedded.Start(ctx, embedded.Config{DataDir: dir,
			Topics: map[string]int32{cfg.RequestTopic: 60, cfg.ResponseTopic: 60}})
		if err != nil {
			return nil, err
		}
		defer stack.Close()
		if err := stack.IndexIDs(ctx, cfg.Database, ceiling.Collections); err != nil {
			return nil, err
		}
		cfg.MongoURI, cfg.Brokers = stack.MongoURI(), stack.KafkaBrokers()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return ceiling.Run(ctx, cfg)
}

// Ports of the devstack the ceiling starts: below the ephemeral range, apart
// from the `make bench-*` stack's.
const (
	devstackMongoPort = 27927
	devstackKafkaPort = 29962
)

// startDevstack starts FerretDB and kfake in a devstack process with no
// services (its `_id` indexes cover the ceiling's collections in database
// jobplane) and returns how to stop it.
func startDevstack(ctx context.Context, bin, dir string, cfg *ceiling.Config) (stop func(), err error) {
	cmd := exec.CommandContext(ctx, bin, "--data-dir", dir, "--clients", "0", "--servers", "0", // #nosec G204 -- the operator's own binary
		"--mongo-port", strconv.Itoa(devstackMongoPort), "--kafka-port", strconv.Itoa(devstackKafkaPort), "--server-grpc-port", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start devstack: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	// The banner names the engines' addresses; the ready line ends it.
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		switch f := strings.Fields(line); {
		case len(f) >= 2 && f[0] == "mongodb":
			cfg.MongoURI = f[1]
		case len(f) >= 2 && f[0] == "kafka":
			cfg.Brokers = strings.Split(f[1], ",")
		case strings.Contains(line, devstack.ReadyLine):
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return stop, nil
		}
	}
	stop()
	return nil, fmt.Errorf("devstack exited before it was ready: %v", sc.Err())
}
