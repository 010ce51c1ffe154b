package remoting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server accepts TCP connections and serves the requests on them with
// Handler. A Server with a Handler and every other field zero is a valid
// configuration; set the fields before Serve and do not change them after.
type Server struct {
	// Handler serves the requests; a Mux usually. With none, every
	// request is answered REQUEST_CODE_NOT_SUPPORTED.
	Handler Handler
	// Logger receives connection-level events. Default: discard.
	Logger *slog.Logger
	// MaxFrameSize is the largest frame read or written, in bytes; a
	// longer one closes the connection. Default DefaultMaxFrameSize.
	MaxFrameSize int
	// MaxInFlightPerConn bounds the handlers running at once for one
	// connection; a request beyond it is answered SYSTEM_BUSY with a
	// remark starting "[OVERLOAD]". Default 4096.
	MaxInFlightPerConn int
	// IdleTimeout closes a connection on which nothing arrived for this
	// long (RocketMQ's serverChannelMaxIdleTimeSeconds). Clients send a
	// heartbeat every 30 s. Default 120 s.
	IdleTimeout time.Duration
	// OnConnect, if set, is called for each new connection before its
	// first request is read, from the accepting goroutine: it must not
	// block.
	OnConnect func(*Conn)
	// OnDisconnect, if set, is called once for each connection after it
	// closed and every handler it started returned: no request of that
	// connection is served after it.
	OnDisconnect func(*Conn)

	mu        sync.Mutex // guards the fields below, and orders wg.Add before wg.Wait
	cfg       *connConfig
	listeners map[net.Listener]struct{}
	addr      net.Addr
	conns     map[*Conn]struct{}
	quit      chan struct{} // closed when shutting down starts

	shutting atomic.Bool  // set under mu; read without it on the request path
	inFlight atomic.Int64 // handlers running on every connection
	drained  chan struct{}
	// shutdownMu serializes Shutdown and Close.
	shutdownMu sync.Mutex
	wg         sync.WaitGroup // every connection goroutine
}

// initLocked sets up the server's state on first use.
func (s *Server) initLocked() {
	if s.cfg != nil {
		return
	}
	s.cfg = &connConfig{
		log:         s.Logger,
		maxFrame:    s.MaxFrameSize,
		maxInFlight: s.MaxInFlightPerConn,
		idle:        s.IdleTimeout,
		wg:          &s.wg,
		admit:       s.admit,
		done:        s.handlerDone,
		gone:        s.forget,
	}
	s.cfg.setDefaults()
	s.cfg.handler = s.Handler
	if s.cfg.handler == nil {
		s.cfg.handler = NewMux(s.cfg.log)
	}
	if s.cfg.idle <= 0 {
		s.cfg.idle = 120 * time.Second
	}
	s.listeners = map[net.Listener]struct{}{}
	s.conns = map[*Conn]struct{}{}
	s.quit = make(chan struct{})
	s.drained = make(chan struct{}, 1)
}

// ListenAndServe listens on the TCP address addr and serves; see Serve.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Addr returns the address of the first listener Serve was given, or nil
// before that.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve accepts connections on ln and serves them until Shutdown or Close,
// then returns ErrServerClosed. It closes ln when it returns. Serve may be
// called for several listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.initLocked()
	if s.shutting.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	if s.addr == nil {
		s.addr = ln.Addr()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			if !temporaryAcceptError(err) {
				return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
			}
			// Out of file descriptors, say: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.cfg.log.Warn("accept failed; retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.quit:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.shutting.Load() {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		c := newConn(nc, s.cfg, "")
		s.conns[c] = struct{}{}
		s.wg.Add(2) // reader and writer, before any Wait
		s.mu.Unlock()
		c.start(s.OnConnect)
	}
}

func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// admit counts a handler about to start, unless the server is shutting
// down. Incrementing before reading shutting (while Shutdown sets shutting
// before reading the count) means Shutdown cannot miss a handler.
func (s *Server) admit() bool {
	s.inFlight.Add(1)
	if s.shutting.Load() {
		s.handlerDone()
		return false
	}
	return true
}

func (s *Server) handlerDone() {
	if s.inFlight.Add(-1) == 0 && s.shutting.Load() {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
}

// forget drops a connection that is gone.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if s.OnDisconnect != nil {
		s.OnDisconnect(c)
	}
}

// stopAccepting starts shutting down: Serve returns and new requests are
// refused with SYSTEM_BUSY "[REJECTREQUEST]...".
func (s *Server) stopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.shutting.Load() {
		return
	}
	s.shutting.Store(true)
	close(s.quit)
	for ln := range s.listeners {
		ln.Close()
	}
}

func (s *Server) connList() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Shutdown shuts the server down gracefully: it stops accepting connections
// and refuses new requests (SYSTEM_BUSY), waits for the running handlers to
// finish and their responses to be written, then closes every connection.
// If ctx ends first, it closes the connections at once, which cancels the
// handlers' contexts, and returns ctx's error. Either way it returns after
// every goroutine of the server ended, so it must not be called from a
// handler. It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownMu.Lock()
	defer s.shutdownMu.Unlock()
	s.stopAccepting()
	err := s.drain(ctx)
	s.closeConns()
	s.wg.Wait()
	return err
}

// drain waits for the handlers, then for the connections to write what
// they queued and close.
func (s *Server) drain(ctx context.Context) error {
	for s.inFlight.Load() > 0 {
		select {
		case <-s.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	conns := s.connList()
	for _, c := range conns {
		c.closeAfterFlush()
	}
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops accepting and closes every connection at once, then waits
// for the server's goroutines (handlers see their context cancelled); it
// must not be called from a handler. It always returns nil.
func (s *Server) Close() error {
	s.shutdownMu.Lock()
	defer s.shutdownMu.Unlock()
	s.stopAccepting()
	s.closeConns()
	s.wg.Wait()
	return nil
}

func (s *Server) closeConns() {
	for _, c := range s.connList() {
		c.Close()
	}
}
