package handler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jobplane/jobplane/pkg/handler"
)

// Register your own operation type, then pass the registry to the server
// from your own main:
//
//	cfg := server.ConfigFromEnv()
//	cfg.Handlers = registry
//	err := server.Run(ctx, cfg)
func ExampleRegistry_Register() {
	registry, _ := handler.Builtins(nil)
	registry.Register("upper", func(_ context.Context, req handler.Request) (string, error) {
		if req.Input == "" {
			return "", handler.Permanent(errors.New("empty input"))
		}
		return strings.ToUpper(req.Input), nil
	})
	fn, _ := registry.Lookup("upper")
	out, _ := fn(context.Background(), handler.Request{Input: "hello"})
	fmt.Println(registry.Types(), out)
	// Output: [expr upper] HELLO
}
