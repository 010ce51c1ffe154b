package remoting

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Server accepts connections and serves their requests with Handler. The
// zero value with a Handler is a valid configuration.
type Server struct {
	Handler Handler
	// Logger receives connection-level logs. Default: discard.
	Logger *slog.Logger
	// MaxFrameSize is the largest frame accepted. Default DefaultMaxFrameSize.
	MaxFrameSize int
	// MaxInFlightPerConn bounds the requests served at once per connection;
	// beyond it a request is answered SYSTEM_BUSY. Default 4096.
	MaxInFlightPerConn int
	// IdleTimeout closes a connection that sent nothing for this long.
	// Default 120s (RocketMQ's serverChannelMaxIdleTimeSeconds); clients
	// heartbeat every 30 s.
	IdleTimeout time.Duration
	// OnConnect and OnDisconnect, if set, are called for each connection.
	OnConnect    func(*Conn)
	OnDisconnect func(*Conn)

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*Conn]struct{}
	shutting bool
	accepted chan struct{} // closed once Serve has a listener
	initOnce sync.Once
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.conns = map[*Conn]struct{}{}
		s.accepted = make(chan struct{})
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// ListenAndServe listens on addr and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Addr is the listener's address once Serve runs, nil before.
func (s *Server) Addr() net.Addr {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections on ln until Shutdown or Close, and then returns
// ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	close(s.accepted)
	s.mu.Unlock()
	cfg := connConfig{
		handler:     s.Handler,
		log:         s.logger(),
		maxFrame:    s.MaxFrameSize,
		maxInFlight: s.MaxInFlightPerConn,
		idle:        s.IdleTimeout,
		onClose:     s.forget,
	}
	if cfg.maxFrame <= 0 {
		cfg.maxFrame = DefaultMaxFrameSize
	}
	if cfg.maxInFlight <= 0 {
		cfg.maxInFlight = 4096
	}
	if cfg.idle <= 0 {
		cfg.idle = 120 * time.Second
	}
	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			shutting := s.shutting
			s.mu.Unlock()
			if shutting {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			return err
		}
		tempDelay = 0
		s.mu.Lock()
		if s.shutting {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		c := newConn(nc, cfg)
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		if s.OnConnect != nil {
			s.OnConnect(c)
		}
	}
}

// forget drops a closed connection.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	_, ok := s.conns[c]
	delete(s.conns, c)
	s.mu.Unlock()
	if ok && s.OnDisconnect != nil {
		s.OnDisconnect(c)
	}
}

// Shutdown stops accepting, waits for requests in flight to be answered
// (until ctx is done), then closes every connection and waits for their
// goroutines. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.shutting = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	var err error
	for s.busy() {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
			continue
		}
		break
	}
	s.closeAll()
	return err
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.shutting = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	s.closeAll()
	return nil
}

func (s *Server) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.inFlight.Load() > 0 {
			return true
		}
	}
	return false
}

func (s *Server) closeAll() {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	for _, c := range conns {
		c.wait()
	}
}
