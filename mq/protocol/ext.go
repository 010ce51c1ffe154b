package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors returned by the header, body and batch decoders. Compare with
// errors.Is; a *FieldError also says which ext field was at fault.
var (
	// ErrMissingField: a field the Java class marks @CFNotNull is absent.
	ErrMissingField = errors.New("protocol: required header field missing")
	// ErrBadField: a numeric field does not parse or does not fit its type.
	ErrBadField = errors.New("protocol: malformed header field")
	// ErrBadBody: a JSON (or fastjson-style) body does not decode.
	ErrBadBody = errors.New("protocol: malformed body")
	// ErrInvalidRoute: route data the Go client would misread or crash on.
	ErrInvalidRoute = errors.New("protocol: route data unusable by clients")
)

// FieldError reports one missing or malformed ext field of a request or
// response header. errors.Is(err, ErrMissingField) or ErrBadField holds.
type FieldError struct {
	Field string
	// Value is the text received; empty when the field is missing.
	Value string
	// Err is ErrMissingField or ErrBadField.
	Err error
	// Reason says what is wrong with Value, e.g. "value out of range".
	Reason string
}

func (e *FieldError) Error() string {
	if errors.Is(e.Err, ErrMissingField) {
		return fmt.Sprintf("protocol: header field %q missing", e.Field)
	}
	return fmt.Sprintf("protocol: header field %q: bad value %q: %s", e.Field, e.Value, e.Reason)
}

func (e *FieldError) Unwrap() error { return e.Err }

// extReader decodes ext fields with the rules of Java's
// RemotingCommand.decodeCommandCustomHeader, but reports problems instead
// of logging them: an absent required field is an error, numbers must parse
// in their Java width (Integer = 32 bits, Long = 64), booleans follow
// Boolean.parseBoolean ("true" in any case is true, anything else false;
// Java never rejects a boolean, so neither do we). An empty string is
// present: fine for a string, malformed for a number.
//
// It collects every problem so a caller sees them all at once.
type extReader struct {
	ext  map[string]string
	errs []error
}

func (r *extReader) missing(key string) {
	r.errs = append(r.errs, &FieldError{Field: key, Err: ErrMissingField})
}

func (r *extReader) bad(key, value string, err error) {
	reason := "not a number"
	var ne *strconv.NumError
	if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
		reason = "value out of range"
	}
	r.errs = append(r.errs, &FieldError{Field: key, Value: value, Err: ErrBadField, Reason: reason})
}

// str returns a required string field.
func (r *extReader) str(key string) string {
	v, ok := r.ext[key]
	if !ok {
		r.missing(key)
	}
	return v
}

// optStr returns an optional string field, "" when absent.
func (r *extReader) optStr(key string) string {
	return r.ext[key]
}

func (r *extReader) parse(key string, bits int, required bool) (int64, bool) {
	v, ok := r.ext[key]
	if !ok {
		if required {
			r.missing(key)
		}
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		r.bad(key, v, err)
		return 0, false
	}
	return n, true
}

// int32 returns a required Integer field.
func (r *extReader) int32(key string) int32 {
	n, _ := r.parse(key, 32, true)
	return int32(n)
}

// optInt32 returns an optional Integer field and whether it was present and
// well-formed; def when it was not.
func (r *extReader) optInt32(key string, def int32) (int32, bool) {
	n, ok := r.parse(key, 32, false)
	if !ok {
		return def, false
	}
	return int32(n), true
}

// int64 returns a required Long field.
func (r *extReader) int64(key string) int64 {
	n, _ := r.parse(key, 64, true)
	return n
}

// optInt64 returns an optional Long field, def when absent.
func (r *extReader) optInt64(key string, def int64) int64 {
	n, ok := r.parse(key, 64, false)
	if !ok {
		return def
	}
	return n
}

// bool returns an optional boolean field, false when absent.
func (r *extReader) bool(key string) bool {
	return strings.EqualFold(r.ext[key], "true")
}

// reqBool returns a boolean field that must be present.
func (r *extReader) reqBool(key string) bool {
	if _, ok := r.ext[key]; !ok {
		r.missing(key)
	}
	return r.bool(key)
}

// err wraps the collected problems with the header's name, or returns nil.
func (r *extReader) err(header string) error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("decode %s header: %w", header, errors.Join(r.errs...))
}

// Formatting helpers for Ext methods: every ext value is a string on the wire.

func i32(n int32) string { return strconv.FormatInt(int64(n), 10) }
func i64(n int64) string { return strconv.FormatInt(n, 10) }
func btoa(b bool) string { return strconv.FormatBool(b) }
func putOpt(ext map[string]string, key, value string) {
	if value != "" {
		ext[key] = value
	}
}
