package namesrv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// ErrServing is returned by Serve when the Server already serves: a Server
// serves one listener.
var ErrServing = errors.New("namesrv: server already serving")

// shutdownGrace bounds how long ListenAndServe's shutdown waits for
// requests in flight; NameServer requests take microseconds.
const shutdownGrace = 5 * time.Second

// Server is a NameServer. Create it with New, run it with Serve or
// ListenAndServe, stop it with Shutdown.
type Server struct {
	cfg Config
	log *slog.Logger
	reg *registry
	kv  *kvConfig
	mux *remoting.Mux
	srv *remoting.Server

	mu      sync.Mutex // guards serving, closed and the start of scanner
	serving bool
	closed  bool
	stop    chan struct{} // closed by Shutdown
	scanner sync.WaitGroup
}

// New returns a NameServer configured by cfg; it serves once Serve or
// ListenAndServe runs. It fails only on an unusable Config.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:  cfg,
		log:  cfg.Logger,
		reg:  newRegistry(),
		kv:   newKVConfig(),
		stop: make(chan struct{}),
	}
	s.mux = s.newMux()
	s.srv = &remoting.Server{
		Handler: s.mux,
		Logger:  cfg.Logger,
		// An idle connection is closed, which drops the brokers registered
		// on it; never before a broker could have expired.
		IdleTimeout:  max(120*time.Second, cfg.BrokerExpiry),
		OnDisconnect: s.connClosed,
	}
	return s, nil
}

// ListenAndServe listens on Config.ListenAddr and serves until ctx is done
// or Shutdown is called. When ctx ends it shuts down gracefully and
// returns nil (or the shutdown's error). Whatever ends it, the server is
// shut down when it returns.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("namesrv: listen on %s: %w", s.cfg.ListenAddr, err)
	}
	served := make(chan struct{})
	shutdown := make(chan error, 1)
	go func() { // ends before ListenAndServe returns
		select {
		case <-ctx.Done():
		case <-served: // Shutdown was called, or accepting failed
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		shutdown <- s.Shutdown(sctx)
	}()
	err = s.Serve(ln)
	close(served)
	return errors.Join(err, <-shutdown)
}

// Serve accepts connections on ln and serves them until Shutdown, then
// returns nil. It also runs the expiry scanner. If accepting fails, Serve
// returns the error and the caller must still call Shutdown to stop the
// scanner. After Shutdown, Serve closes ln and returns nil at once; a
// second concurrent Serve returns ErrServing.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	if s.serving {
		s.mu.Unlock()
		return ErrServing
	}
	s.serving = true
	s.startScannerLocked()
	s.mu.Unlock()

	s.log.Info("NameServer listening", "addr", ln.Addr().String(),
		"brokerExpiry", s.cfg.BrokerExpiry, "scanInterval", s.cfg.ScanInterval)
	err := s.srv.Serve(ln)
	if errors.Is(err, remoting.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("namesrv: serve on %s: %w", ln.Addr(), err)
}

// Addr is the listen address once serving, nil before.
func (s *Server) Addr() net.Addr { return s.srv.Addr() }

// Shutdown stops accepting connections, waits (until ctx is done) for
// requests in flight, closes every connection and stops the expiry
// scanner. It is idempotent; it returns ctx's error if it gave up waiting.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closed
	if first {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	err := s.srv.Shutdown(ctx)
	s.scanner.Wait()
	if first {
		s.log.Info("NameServer stopped")
	}
	if err != nil {
		return fmt.Errorf("namesrv: shutdown: %w", err)
	}
	return nil
}

// HasBroker reports whether a broker address is registered. Tests and
// mqtest wait on it.
func (s *Server) HasBroker(addr string) bool { return s.reg.hasBroker(addr) }

// startScannerLocked starts the expiry scanner unless Shutdown ran. s.mu
// must be held.
func (s *Server) startScannerLocked() {
	if s.closed {
		return
	}
	s.scanner.Go(s.scanLoop)
}

// scanLoop drops silent brokers every ScanInterval until Shutdown.
func (s *Server) scanLoop() {
	t := time.NewTicker(s.cfg.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.expireSilent()
		}
	}
}

// expireSilent drops the brokers silent for longer than BrokerExpiry and
// closes their connections, as Java's scanNotActiveBroker does.
func (s *Server) expireSilent() {
	for _, b := range s.reg.expire(s.cfg.Now(), s.cfg.BrokerExpiry) {
		s.log.Warn("broker expired: no registration within the expiry",
			"broker", b.name, "addr", b.addr, "cluster", b.cluster, "brokerId", b.id,
			"expiry", s.cfg.BrokerExpiry, "lastOfName", b.lastOfName)
		if c, ok := b.conn.(*remoting.Conn); ok && b.connUnused {
			c.Close()
		}
	}
}

// connClosed drops the brokers whose latest registration came on c.
func (s *Server) connClosed(c *remoting.Conn) {
	gone := s.reg.removeConn(c)
	if s.isClosed() {
		return // shutting down: every connection closes, nothing to report
	}
	for _, b := range gone {
		s.log.Info("broker connection closed, broker removed",
			"broker", b.name, "addr", b.addr, "cluster", b.cluster, "brokerId", b.id, "lastOfName", b.lastOfName)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// newMux routes the NameServer's request codes to their handlers
// (handlers.go). Unknown codes get REQUEST_CODE_NOT_SUPPORTED from the Mux.
func (s *Server) newMux() *remoting.Mux {
	m := remoting.NewMux(s.log)
	m.HandleFunc(protocol.PutKVConfig, s.handlePutKV)
	m.HandleFunc(protocol.GetKVConfig, s.handleGetKV)
	m.HandleFunc(protocol.DeleteKVConfig, s.handleDeleteKV)
	m.HandleFunc(codeGetKVListByNamespace, s.handleGetKVList)
	m.HandleFunc(protocol.RegisterBroker, s.handleRegister)
	m.HandleFunc(protocol.UnregisterBroker, s.handleUnregister)
	m.HandleFunc(protocol.QueryDataVersion, s.handleQueryDataVersion)
	m.HandleFunc(protocol.GetRouteInfoByTopic, s.handleRoute)
	m.HandleFunc(protocol.GetBrokerClusterInfo, s.handleClusterInfo)
	m.HandleFunc(protocol.GetAllTopicListFromNameServer, s.handleTopicList)
	m.HandleFunc(protocol.GetTopicsByCluster, s.handleTopicsByCluster)
	m.HandleFunc(protocol.DeleteTopicInNamesrv, s.handleDeleteTopic)
	m.HandleFunc(protocol.WipeWritePermOfBroker, s.handleWipeWritePerm)
	m.HandleFunc(codeAddWritePermOfBroker, s.handleAddWritePerm)
	return m
}
