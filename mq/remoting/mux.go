package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/surge-mq/surge/mq/protocol"
)

// Mux routes requests by code. An unknown code gets RocketMQ's
// REQUEST_CODE_NOT_SUPPORTED; a panicking handler is a bug, but it must not
// take the process down: it is logged and answered with SYSTEM_ERROR.
type Mux struct {
	log      *slog.Logger
	handlers map[int16]Handler
}

// NewMux returns an empty Mux; logger may be nil.
func NewMux(logger *slog.Logger) *Mux {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Mux{log: logger, handlers: map[int16]Handler{}}
}

// Handle registers h for a request code. Register before serving.
func (m *Mux) Handle(code int16, h Handler) { m.handlers[code] = h }

// HandleFunc registers f for a request code.
func (m *Mux) HandleFunc(code int16, f HandlerFunc) { m.handlers[code] = f }

// ServeCommand dispatches req.
func (m *Mux) ServeCommand(ctx context.Context, c *Conn, req *Command) (resp *Command) {
	h := m.handlers[req.Code]
	if h == nil {
		return NewResponse(req, protocol.RequestCodeNotSupported, fmt.Sprintf(" request type %d not supported", req.Code))
	}
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("handler panicked", "code", req.Code, "addr", c.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			resp = NewResponse(req, protocol.SystemError, fmt.Sprintf("internal error serving request %d: %v", req.Code, p))
		}
	}()
	return h.ServeCommand(ctx, c, req)
}
