package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// Handler serves requests that arrive on a Conn: on a server, the clients'
// requests; on a client, requests the server sends (transaction checks,
// rebalance notices). Handlers run concurrently, each in its own goroutine,
// and may block (a held pull blocks for seconds). The returned command is
// written back unless the request was oneway; nil means no response. ctx
// is cancelled when the connection closes.
type Handler interface {
	ServeCommand(ctx context.Context, c *Conn, req *Command) *Command
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Conn, req *Command) *Command

// ServeCommand calls f.
func (f HandlerFunc) ServeCommand(ctx context.Context, c *Conn, req *Command) *Command {
	return f(ctx, c, req)
}

// connConfig is what a Conn needs from its owner.
type connConfig struct {
	handler     Handler
	log         *slog.Logger
	maxFrame    int
	maxInFlight int
	idle        time.Duration // 0: no idle timeout
	onClose     func(*Conn)
}

// Conn is one TCP connection carrying requests and responses both ways.
type Conn struct {
	nc     net.Conn
	cfg    connConfig
	ctx    context.Context
	cancel context.CancelFunc

	opaque   atomic.Int32
	inFlight atomic.Int32
	sendq    chan []byte
	done     chan struct{}

	mu      sync.Mutex // guards pending and closed
	pending map[int32]chan *Command
	closed  bool

	closeOnce sync.Once
	loops     sync.WaitGroup // reader and writer
	handlers  sync.WaitGroup // running handler goroutines
}

func newConn(nc net.Conn, cfg connConfig) *Conn {
	c := &Conn{nc: nc, cfg: cfg, sendq: make(chan []byte, 1024), done: make(chan struct{}), pending: map[int32]chan *Command{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c.loops.Go(c.readLoop)
	c.loops.Go(c.writeLoop)
	return c
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is our end's address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Done is closed when the connection is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection; pending Invokes fail with ErrClosed.
func (c *Conn) Close() error {
	c.closeWith(nil)
	return nil
}

func (c *Conn) closeWith(reason error) {
	c.closeOnce.Do(func() {
		if reason != nil {
			c.cfg.log.Warn("closing connection", "addr", c.nc.RemoteAddr().String(), "err", reason)
		}
		c.cancel()
		c.nc.Close()
		c.mu.Lock()
		c.closed = true
		c.pending = nil
		c.mu.Unlock()
		close(c.done)
		if c.cfg.onClose != nil {
			c.cfg.onClose(c)
		}
	})
}

// wait waits for the connection's goroutines after it closed.
func (c *Conn) wait() {
	c.loops.Wait()
	c.handlers.Wait()
}

// Invoke sends a request and waits for its response.
func (c *Conn) Invoke(ctx context.Context, req *Command) (*Command, error) {
	req.Opaque = c.opaque.Add(1)
	req.Flag &^= FlagResponse | FlagOneway
	ch := make(chan *Command, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("invoke code %d on %s: %w", req.Code, c.nc.RemoteAddr(), ErrClosed)
	}
	c.pending[req.Opaque] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, req.Opaque)
		}
		c.mu.Unlock()
	}()
	if err := c.WriteCommand(ctx, req); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke code %d on %s: %w", req.Code, c.nc.RemoteAddr(), ctx.Err())
	case <-c.done:
		return nil, fmt.Errorf("invoke code %d on %s: %w", req.Code, c.nc.RemoteAddr(), ErrClosed)
	}
}

// InvokeOneway sends a request that gets no response.
func (c *Conn) InvokeOneway(ctx context.Context, req *Command) error {
	req.Opaque = c.opaque.Add(1)
	req.Flag = req.Flag&^FlagResponse | FlagOneway
	return c.WriteCommand(ctx, req)
}

// WriteCommand queues one frame for writing.
func (c *Conn) WriteCommand(ctx context.Context, cmd *Command) error {
	frame, err := AppendFrame(nil, cmd)
	if err != nil {
		return err
	}
	select {
	case c.sendq <- frame:
		return nil
	case <-c.done:
		return fmt.Errorf("write to %s: %w", c.nc.RemoteAddr(), ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("write to %s: %w", c.nc.RemoteAddr(), ctx.Err())
	}
}

// writeLoop writes queued frames, flushing when the queue runs dry so that
// frames queued together leave in one write.
func (c *Conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		select {
		case <-c.done:
			return
		case f := <-c.sendq:
			if _, err := w.Write(f); err != nil {
				c.closeWith(fmt.Errorf("write: %w", err))
				return
			}
		}
	drain:
		for {
			select {
			case f := <-c.sendq:
				if _, err := w.Write(f); err != nil {
					c.closeWith(fmt.Errorf("write: %w", err))
					return
				}
			default:
				break drain
			}
		}
		if err := w.Flush(); err != nil {
			c.closeWith(fmt.Errorf("write: %w", err))
			return
		}
	}
}

// readLoop reads frames: responses go to their waiting Invoke, requests to
// the handler.
func (c *Conn) readLoop() {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		if c.cfg.idle > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.cfg.idle))
		}
		frame, err := readFrame(r, c.cfg.maxFrame)
		if err != nil {
			c.closeWith(readError(err))
			return
		}
		cmd, err := DecodeFrame(frame)
		if err != nil {
			c.closeWith(err)
			return
		}
		if cmd.IsResponse() {
			c.mu.Lock()
			ch := c.pending[cmd.Opaque]
			c.mu.Unlock()
			if ch != nil {
				ch <- cmd
			}
			continue
		}
		c.dispatch(cmd)
	}
}

// readError says why reading stopped, or nil for an orderly end.
func readError(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
		return nil // the peer went away: normal for clients
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("idle timeout: nothing received")
	}
	return err
}

func (c *Conn) dispatch(req *Command) {
	if c.cfg.handler == nil {
		return
	}
	if n := c.inFlight.Add(1); c.cfg.maxInFlight > 0 && int(n) > c.cfg.maxInFlight {
		c.inFlight.Add(-1)
		if !req.IsOneway() {
			resp := NewResponse(req, protocol.SystemBusy, "[OVERLOAD]too many requests in flight on this connection (limit "+strconv.Itoa(c.cfg.maxInFlight)+"); slow down or use more connections")
			c.WriteCommand(c.ctx, resp)
		}
		return
	}
	c.handlers.Go(func() {
		defer c.inFlight.Add(-1)
		resp := c.cfg.handler.ServeCommand(c.ctx, c, req)
		if resp != nil && !req.IsOneway() {
			resp.Opaque = req.Opaque
			resp.Flag |= FlagResponse
			resp.Serialize = req.Serialize
			c.WriteCommand(c.ctx, resp)
		}
	})
}
