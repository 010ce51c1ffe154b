// Package env reads a service's settings from environment variables. Only
// binaries (cmd/...) use it; libraries take config structs.
//
// A Reader collects every bad value, so that a misconfigured service names
// all its problems at once (Err).
package env

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Reader reads variables through lookup (os.LookupEnv by default) and
// remembers the problems it met.
type Reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New returns a Reader of the process environment, or of lookup if not nil
// (tests).
func New(lookup func(string) (string, bool)) *Reader {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Reader{lookup: lookup}
}

// Err returns every problem met so far, joined, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

func (r *Reader) fail(key, val string, err error) {
	r.errs = append(r.errs, fmt.Errorf("env %s=%q: %w", key, val, err))
}

// String returns the variable, or def when it is unset or empty.
func (r *Reader) String(key, def string) string {
	if v, ok := r.lookup(key); ok && v != "" {
		return v
	}
	return def
}

// Required returns the variable and records a problem when it is missing.
func (r *Reader) Required(key string) string {
	v := r.String(key, "")
	if v == "" {
		r.errs = append(r.errs, fmt.Errorf("env %s: required", key))
	}
	return v
}

// List splits the variable at sep, dropping empty parts.
func (r *Reader) List(key, def, sep string) []string {
	var out []string
	for p := range strings.SplitSeq(r.String(key, def), sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Bool parses the variable with strconv.ParseBool.
func (r *Reader) Bool(key string, def bool) bool {
	v := r.String(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, v, errors.New("want true or false"))
		return def
	}
	return b
}

// Int parses the variable as an integer from lo to hi.
func (r *Reader) Int(key string, def, lo, hi int) int {
	v := r.String(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(key, v, fmt.Errorf("want an integer from %d to %d", lo, hi))
		return def
	}
	return n
}

// Duration parses the variable with time.ParseDuration.
func (r *Reader) Duration(key string, def time.Duration) time.Duration {
	v := r.String(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(key, v, errors.New("want a non-negative duration such as 500ms or 2s"))
		return def
	}
	return d
}

// OneOf returns the variable if it is one of allowed, else records a problem.
func (r *Reader) OneOf(key, def string, allowed ...string) string {
	v := r.String(key, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, v, fmt.Errorf("want one of %s", strings.Join(allowed, ", ")))
	return def
}
