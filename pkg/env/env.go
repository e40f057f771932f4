// Package env reads configuration from environment variables, collecting
// errors that name the offending variable.
package env

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reader reads variables through Lookup (os.LookupEnv by default) and
// collects parse errors. It remembers the name of every variable it was
// asked for (Names), so a test can check that a deployment sets them all.
type Reader struct {
	Lookup func(string) (string, bool)
	errs   []error
	names  map[string]struct{}
}

// New returns a Reader over the process environment.
func New() *Reader { return &Reader{Lookup: os.LookupEnv} }

// FromMap returns a Reader over vars instead of the process environment.
func FromMap(vars map[string]string) *Reader {
	return &Reader{Lookup: func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}}
}

// Names returns, sorted, the name of every variable read so far, whether or
// not it was set.
func (r *Reader) Names() []string {
	out := make([]string, 0, len(r.names))
	for n := range r.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Err returns every error collected so far.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

func (r *Reader) get(name string) (string, bool) {
	if r.names == nil {
		r.names = make(map[string]struct{})
	}
	r.names[name] = struct{}{}
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
