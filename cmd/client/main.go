// Command client runs the jobplane client service (gRPC + REST API, result
// applier). Configuration comes from the environment; see the README.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobplane/jobplane/services/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := client.ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return client.Run(ctx, cfg)
}
