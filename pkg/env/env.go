// Package env reads configuration from environment variables, collecting
// errors that name the offending variable.
package env

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Reader reads variables through Lookup (os.LookupEnv by default) and
// collects parse errors.
type Reader struct {
	Lookup func(string) (string, bool)
	errs   []error
}

// New returns a Reader over the process environment.
func New() *Reader { return &Reader{Lookup: os.LookupEnv} }

// Err returns every error collected so far.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

func (r *Reader) get(name string) (string, bool) {
	v, ok := r.Lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return strings.TrimSpace(v), true
}

// String returns the variable or def.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// List returns a comma-separated variable or def.
func (r *Reader) List(name string, def []string) []string {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Int returns an integer variable or def.
func (r *Reader) Int(name string, def int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: not an integer", name, v))
		return def
	}
	return n
}

// Duration returns a duration variable ("250ms", "10s") or def.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: not a duration (e.g. 500ms, 10s)", name, v))
		return def
	}
	return d
}

// Bool returns a boolean variable or def.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: not a boolean", name, v))
		return def
	}
	return b
}
