// Package handler is the registry of operation types a server runs: a map
// from type name to a Go function. A user builds their own server binary with
// their own types by registering them before calling server.Run (see the
// example).
package handler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Request is one operation to execute.
type Request struct {
	JobID       string
	OperationID string
	Type        string
	// Input is the operation's request string.
	Input string
	// Attempt is 1 for the first dispatch.
	Attempt int
}

// Func executes an operation and returns its result. An error marked with
// Permanent fails the operation with the error's message and is never
// retried (the caller's input is wrong). Any other error is transient: the
// server retries it with backoff, and fails the operation when retries are
// exhausted.
type Func func(ctx context.Context, req Request) (result string, err error)

// ErrPermanent is matched by errors.Is on every error wrapped by Permanent.
var ErrPermanent = errors.New("permanent failure")

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent marks err as a failure of the input that must not be retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// Registry maps operation types to handlers. It is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Func
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{handlers: map[string]Func{}} }

// Register adds a handler for typ, replacing any previous one.
func (r *Registry) Register(typ string, fn Func) {
	if typ == "" || fn == nil {
		panic(fmt.Sprintf("handler: invalid registration of type %q", typ))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[typ] = fn
}

// Lookup returns the handler of typ.
func (r *Registry) Lookup(typ string) (Func, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.handlers[typ]
	return fn, ok
}

// Types lists the registered types, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.handlers))
	for t := range r.handlers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
