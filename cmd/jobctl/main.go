// Command jobctl is the jobplane CLI, built on pkg/sdk: create, get, list,
// ops, watch, cancel, delete and aggregate jobs; cluster stats; metrics
// record|get|aggregate; and the bench load generator. Tables by default,
// -o json for scripts. Configuration from flags or JOBPLANE_ADDR,
// JOBPLANE_TOKEN (and JOBPLANE_TLS_CA, JOBPLANE_TLS_CERT, JOBPLANE_TLS_KEY).
//
// Exit codes: 0 success; 1 other errors; 2 usage or invalid argument;
// 3 the job ended FAILED or CANCELLED (watch); 4 not found;
// 5 unauthenticated; 6 unavailable or deadline exceeded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitJobFailed   = 3
	exitNotFound    = 4
	exitUnauth      = 5
	exitUnavailable = 6
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// jobFailedError: the watched job ended, but not SUCCEEDED.
type jobFailedError struct{ state string }

func (e *jobFailedError) Error() string { return "job ended " + e.state }

const topUsage = `jobctl: the jobplane CLI

Usage: jobctl <command> [flags] [args]

Jobs:
  create     create a job from a file, stdin (one expression per line) or --op
  get        show a job
  list       list jobs (--filter, --page-size, --page-token, --all)
  ops        list a job's operations
  watch      follow a job with a progress bar until it is terminal
  cancel     cancel a job's unfinished operations
  delete     delete a job
  aggregate  count, sum, mean, min, max, p50/p90/p99 of a job's results
Cluster and metrics:
  stats      per-node stats of the cluster (partial when a node is down)
  metrics    record | get | aggregate named metric samples
Load:
  bench      load generator: workloads w1-w4 (--workload), --rate; throughput,
             latency p50/p95/p99/max, CPU and memory of services (--metrics)

Every command takes --addr (JOBPLANE_ADDR, default 127.0.0.1:50051),
--token (JOBPLANE_TOKEN), --tls-ca/--tls-cert/--tls-key, --timeout and
-o table|json. "jobctl <command> --help" describes a command.

Exit codes: 0 ok, 1 error, 2 usage or invalid argument, 3 watched job
FAILED/CANCELLED, 4 not found, 5 unauthenticated, 6 unavailable.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, topUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "jobctl: unknown command %q\n\n%s", args[0], topUsage)
		return exitUsage
	}
	env := &cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr}
	err := cmd(ctx, env, args[1:])
	return exitCode(stderr, err)
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageError
	var jf *jobFailedError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "jobctl:", err)
		return exitUsage
	case errors.As(err, &jf):
		fmt.Fprintln(stderr, "jobctl:", err)
		return exitJobFailed
	}
	fmt.Fprintln(stderr, "jobctl:", describe(err))
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.InvalidArgument, codes.OutOfRange:
			return exitUsage
		case codes.NotFound:
			return exitNotFound
		case codes.Unauthenticated, codes.PermissionDenied:
			return exitUnauth
		case codes.Unavailable, codes.DeadlineExceeded:
			return exitUnavailable
		}
	}
	return exitError
}
