package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/surge-mq/surge/mq/protocol"
)

// Mux routes requests to handlers by request code.
//
// A code without a handler is answered REQUEST_CODE_NOT_SUPPORTED with
// Java's remark " request type <n> not supported". A handler that panics
// has a bug, which must not take the broker down: the panic is logged with
// its stack and answered SYSTEM_ERROR with the panic's text.
//
// Handlers may be registered at any time, also while serving.
type Mux struct {
	log *slog.Logger
	mu  sync.Mutex // serializes registrations
	// handlers is replaced, never modified, so that lookups take no lock.
	handlers atomic.Pointer[map[int16]Handler]
}

// NewMux returns a Mux with no handlers; logger nil discards.
func NewMux(logger *slog.Logger) *Mux {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Mux{log: logger}
	m.handlers.Store(&map[int16]Handler{})
	return m
}

// Handle registers h for a request code, replacing any earlier handler.
func (m *Mux) Handle(code int16, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := maps.Clone(*m.handlers.Load())
	next[code] = h
	m.handlers.Store(&next)
}

// HandleFunc registers f for a request code.
func (m *Mux) HandleFunc(code int16, f HandlerFunc) { m.Handle(code, f) }

// ServeCommand serves req with the handler registered for its code.
func (m *Mux) ServeCommand(ctx context.Context, c *Conn, req *Command) (resp *Command) {
	h := (*m.handlers.Load())[req.Code]
	if h == nil {
		return NewResponse(req, protocol.RequestCodeNotSupported, " request type "+strconv.Itoa(int(req.Code))+" not supported")
	}
	defer func() {
		if p := recover(); p != nil {
			addr := ""
			if c != nil {
				addr = c.RemoteAddr().String()
			}
			m.log.Error("handler panicked", "addr", addr, "code", req.Code, "panic", p, "stack", string(debug.Stack()))
			resp = NewResponse(req, protocol.SystemError, fmt.Sprint(p))
		}
	}()
	return h.ServeCommand(ctx, c, req)
}
