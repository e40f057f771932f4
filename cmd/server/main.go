// Command server runs the jobplane server service (the consumer pool that
// executes operations). Configuration comes from the environment; see the
// README. To add operation types, copy this main and set cfg.Handlers.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobplane/jobplane/services/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := server.ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return server.Run(ctx, cfg)
}
