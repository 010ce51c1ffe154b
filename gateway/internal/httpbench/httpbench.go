// Package httpbench has the pieces a benchmark needs to call an
// http.Handler in a loop without measuring a recorder's allocations.
package httpbench

import (
	"net/http"
	"strings"
)

// Writer is a ResponseWriter that keeps only the status; Reset empties the
// header for the next request.
type Writer struct {
	Code int
	h    http.Header
}

// NewWriter returns a Writer.
func NewWriter() *Writer { return &Writer{h: http.Header{}} }

func (w *Writer) Header() http.Header         { return w.h }
func (w *Writer) Write(b []byte) (int, error) { return len(b), nil }
func (w *Writer) WriteHeader(code int)        { w.Code = code }

// Reset prepares w for the next request.
func (w *Writer) Reset() { clear(w.h); w.Code = 0 }

// Body is a request body that can be refilled with Reset.
type Body struct{ strings.Reader }

// Close does nothing.
func (*Body) Close() error { return nil }
