// Package httpx is the HTTP plumbing the services share: JSON responses,
// errors with one stable shape, request logging, health endpoints and a
// server that shuts down gracefully.
//
// Every error body is {"error":{"code":"<stable_code>","message":"..."}};
// clients branch on code, people read message.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// Stable error codes shared by the services (a service may add its own).
const (
	CodeBadRequest  = "bad_request"
	CodeInvalidJSON = "invalid_json"
	CodeNotFound    = "not_found"
	CodeMethod      = "method_not_allowed"
	CodeInternal    = "internal"
	CodeUnavailable = "unavailable"
	CodeNotReady    = "not_ready"
)

// Error is an error a handler answers with: its status, code and message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// BadRequest returns a 400 with code bad_request.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a 404 with code not_found.
func NotFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError writes e in the stable error shape.
func WriteError(w http.ResponseWriter, e *Error) {
	var b errorBody
	b.Error.Code, b.Error.Message = e.Code, e.Message
	WriteJSON(w, e.Status, b)
}

// HandlerFunc is a handler that returns its error: an *Error is answered
// as it says, any other error as a 500 (logged, with a generic message).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to http.HandlerFunc, logging unexpected errors on log.
func Handle(log *slog.Logger, h HandlerFunc) http.HandlerFunc {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *Error
		if errors.As(err, &he) {
			WriteError(w, he)
			return
		}
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		WriteError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"})
	}
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Decode reads a JSON body into v, refusing unknown fields, trailing data
// and bodies over 1 MiB with a 400 invalid_json.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "invalid JSON body: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "invalid JSON body: data after the object"}
	}
	return nil
}

// List answers 200 with items (an empty array rather than null), or
// returns err.
func List[T any](w http.ResponseWriter, items []T, err error) error {
	if err != nil {
		return err
	}
	if items == nil {
		items = []T{}
	}
	WriteJSON(w, http.StatusOK, items)
	return nil
}

// One answers 200 with v; when err is missing (errors.Is) it returns
// notFound instead, and any other error as is.
func One(w http.ResponseWriter, v any, err, missing error, notFound *Error) error {
	switch {
	case errors.Is(err, missing):
		return notFound
	case err != nil:
		return err
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}
