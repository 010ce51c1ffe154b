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
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// Handler serves requests that arrive on a Conn: on a server, the clients'
// requests; on a client, the requests a server sends (CHECK_TRANSACTION_STATE,
// NOTIFY_CONSUMER_IDS_CHANGED, ...).
//
// Handlers run concurrently, each in its own goroutine, and may block: a
// long-polled pull is held for up to 30 s. The returned command is sent,
// with the request's opaque and header form, unless the request was oneway
// (flag&2 != 0); nil sends nothing. ctx is cancelled when the connection
// closes, which Server.Close, Server.Shutdown (after its grace period) and
// Client.Close do; a handler must then return promptly, because they wait
// for it. A handler may keep req and its Body.
type Handler interface {
	ServeCommand(ctx context.Context, c *Conn, req *Command) *Command
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Conn, req *Command) *Command

// ServeCommand calls f.
func (f HandlerFunc) ServeCommand(ctx context.Context, c *Conn, req *Command) *Command {
	return f(ctx, c, req)
}

// defaultMaxInFlight bounds the handlers running at once per connection.
const defaultMaxInFlight = 4096

// readBufferSize is the size of a connection's read buffer. A broker may
// hold thousands of connections, so it is modest.
const readBufferSize = 16 << 10

// connConfig is what a Conn takes from the Server or Client that owns it.
// It is shared by all of the owner's connections and never changes.
type connConfig struct {
	handler     Handler // nil: requests are ignored
	log         *slog.Logger
	maxFrame    int
	maxInFlight int
	idle        time.Duration   // close after this long without a frame; 0: never
	wg          *sync.WaitGroup // counts every goroutine of every connection
	// softLimit and hardLimit bound the write queue in bytes: senders
	// wait above the first, and a write that may not wait closes the
	// connection above the second.
	softLimit, hardLimit int

	// admit is asked before a handler starts and done is called after it
	// ended; admit returning false (the server is shutting down) rejects
	// the request. Both may be nil.
	admit func() bool
	done  func()
	// closed is called once when a connection closes; it must not block.
	closed func(*Conn)
	// gone is called once after the connection closed and every handler
	// it started returned, from one of the connection's goroutines.
	gone func(*Conn)
}

// setDefaults fills in the zero fields.
func (cfg *connConfig) setDefaults() {
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if cfg.maxFrame <= 0 {
		cfg.maxFrame = DefaultMaxFrameSize
	}
	if cfg.maxInFlight <= 0 {
		cfg.maxInFlight = defaultMaxInFlight
	}
	if cfg.softLimit <= 0 {
		cfg.softLimit = queueSoftLimit
	}
	if cfg.hardLimit <= 0 {
		cfg.hardLimit = queueHardLimit
	}
}

// Conn is one TCP connection carrying requests and responses in both
// directions. Its methods are safe for concurrent use.
type Conn struct {
	nc     net.Conn
	cfg    *connConfig
	key    string // the address a Client dialled; "" on a server
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed by closeWith

	closeOnce sync.Once
	opaque    atomic.Int32 // last opaque assigned by Invoke
	inFlight  atomic.Int32 // handlers running
	// refs counts the reader and the running handlers; the last to leave
	// calls cfg.gone.
	refs atomic.Int32

	mu      sync.Mutex // guards pending and closed
	pending map[int32]chan *Command
	closed  bool

	w writeQueue
}

func newConn(nc net.Conn, cfg *connConfig, key string) *Conn {
	c := &Conn{
		nc:      nc,
		cfg:     cfg,
		key:     key,
		done:    make(chan struct{}),
		pending: map[int32]chan *Command{},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.w.init()
	c.refs.Store(1) // the reader's
	return c
}

// start runs the connection's reader and writer. The caller has done
// cfg.wg.Add(2) for them, under the lock that orders it before its owner's
// Wait. onStart, if set, runs once the writer runs and before the first
// request is read.
func (c *Conn) start(onStart func(*Conn)) {
	go func() {
		defer c.cfg.wg.Done()
		c.writeLoop()
	}()
	if onStart != nil {
		onStart(c)
	}
	go func() {
		defer c.cfg.wg.Done()
		c.readLoop()
	}()
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our end's address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Done returns a channel closed when the connection is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection at once. Pending Invokes fail with ErrClosed
// and handlers' contexts are cancelled. It always returns nil.
func (c *Conn) Close() error {
	c.closeWith(nil)
	return nil
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// closeWith closes the connection once. reason says why: nil for an
// orderly close; a bad-input error is logged as a warning, anything else
// at debug level.
func (c *Conn) closeWith(reason error) {
	c.closeOnce.Do(func() {
		addr := c.nc.RemoteAddr().String()
		switch {
		case reason == nil:
			c.cfg.log.Debug("connection closed", "addr", addr)
		case errors.Is(reason, ErrBadFrame), errors.Is(reason, ErrFrameTooLarge), errors.Is(reason, errPeerNotReading):
			c.cfg.log.Warn("closing connection", "addr", addr, "err", reason)
		case errors.Is(reason, errIdle):
			c.cfg.log.Info("closing idle connection", "addr", addr, "err", reason)
		default:
			c.cfg.log.Debug("connection closed", "addr", addr, "err", reason)
		}
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.w.close()
		c.cancel()
		c.nc.Close()
		close(c.done)
		if c.cfg.closed != nil {
			c.cfg.closed(c)
		}
	})
}

// release drops one reference; the last one calls cfg.gone.
func (c *Conn) release() {
	if c.refs.Add(-1) == 0 && c.cfg.gone != nil {
		c.cfg.gone(c)
	}
}

func (c *Conn) errorf(what string, err error) error {
	return fmt.Errorf("%s on %s: %w", what, c.nc.RemoteAddr(), err)
}

// Invoke sends req and waits for its response, until ctx is done or the
// connection closes (then the error wraps ErrClosed). It assigns
// req.Opaque and clears req's response and oneway flags.
func (c *Conn) Invoke(ctx context.Context, req *Command) (*Command, error) {
	resp, _, err := c.invoke(ctx, req)
	return resp, err
}

// invoke is Invoke; sent is false if the request surely did not leave, so
// that a Client may retry it on a fresh connection if the error is
// ErrClosed.
func (c *Conn) invoke(ctx context.Context, req *Command) (resp *Command, sent bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, c.errorf("invoke code "+strconv.Itoa(int(req.Code)), err)
	}
	req.Flag &^= FlagResponse | FlagOneway
	req.Opaque = c.opaque.Add(1)
	ch := make(chan *Command, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, c.errorf("invoke code "+strconv.Itoa(int(req.Code)), ErrClosed)
	}
	c.pending[req.Opaque] = ch
	c.mu.Unlock()
	if err := c.write(ctx, req, false); err != nil {
		c.forget(req.Opaque)
		return nil, false, err
	}
	select {
	case resp := <-ch:
		return resp, true, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-c.done:
		err = ErrClosed
	}
	c.forget(req.Opaque)
	select {
	case resp := <-ch: // it arrived as we gave up: use it
		return resp, true, nil
	default:
	}
	return nil, true, c.errorf("invoke code "+strconv.Itoa(int(req.Code)), err)
}

func (c *Conn) forget(opaque int32) {
	c.mu.Lock()
	delete(c.pending, opaque)
	c.mu.Unlock()
}

// InvokeOneway sends req with FlagOneway set and does not wait for a
// response; it assigns req.Opaque. It returns once the frame is queued.
func (c *Conn) InvokeOneway(ctx context.Context, req *Command) error {
	req.Flag = req.Flag&^FlagResponse | FlagOneway
	req.Opaque = c.opaque.Add(1)
	return c.write(ctx, req, false)
}

// WriteCommand queues cmd's frame for writing, as it is: use it for
// responses, or for requests whose opaque the caller manages. It returns
// once the frame is queued, waiting while the queue is full (until ctx is
// done). A frame larger than the connection's maximum frame size is refused
// with ErrFrameTooLarge: a peer like us would refuse to read it.
func (c *Conn) WriteCommand(ctx context.Context, cmd *Command) error {
	return c.write(ctx, cmd, false)
}

// readLoop reads frames until the connection fails or closes: responses
// go to their waiting Invoke, requests to the handler.
func (c *Conn) readLoop() {
	defer c.release()
	// Coalesced small frames arrive many per read; a frame larger than
	// the buffer is read straight into its own buffer.
	r := bufio.NewReaderSize(c.nc, readBufferSize)
	var armed time.Time // when the read deadline was last set
	for {
		if c.cfg.idle > 0 {
			// Setting a deadline costs a timer update; doing it at most
			// once a second makes the timeout exact to within a second.
			if now := time.Now(); now.Sub(armed) >= time.Second {
				c.nc.SetReadDeadline(now.Add(c.cfg.idle))
				armed = now
			}
		}
		frame, err := readFrame(r, c.cfg.maxFrame)
		if err != nil {
			c.closeWith(c.readError(err))
			return
		}
		cmd, err := DecodeFrame(frame)
		if err != nil {
			c.closeWith(err)
			return
		}
		if cmd.IsResponse() {
			c.deliver(cmd)
		} else {
			c.dispatch(cmd)
		}
	}
}

// errIdle says the peer sent nothing for the idle timeout.
var errIdle = errors.New("remoting: idle timeout")

// readError classifies why reading stopped: nil for an orderly end.
func (c *Conn) readError(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: nothing received for %v", errIdle, c.cfg.idle)
	}
	return err
}

// deliver hands a response to the Invoke waiting for its opaque; one
// nobody waits for is dropped.
func (c *Conn) deliver(resp *Command) {
	c.mu.Lock()
	ch, ok := c.pending[resp.Opaque]
	if ok {
		delete(c.pending, resp.Opaque)
	}
	c.mu.Unlock()
	if ok {
		ch <- resp // buffered, and only one sender finds it
	}
}

// dispatch starts a handler for req, or refuses it.
func (c *Conn) dispatch(req *Command) {
	if c.cfg.handler == nil {
		return
	}
	if c.cfg.admit != nil && !c.cfg.admit() {
		c.reject(req, "[REJECTREQUEST]the server is shutting down")
		return
	}
	if n := c.inFlight.Add(1); int(n) > c.cfg.maxInFlight {
		c.inFlight.Add(-1)
		if c.cfg.done != nil {
			c.cfg.done()
		}
		c.reject(req, "[OVERLOAD]more than "+strconv.Itoa(c.cfg.maxInFlight)+
			" requests in flight on this connection (MaxInFlightPerConn); retry later")
		return
	}
	c.refs.Add(1)
	c.cfg.wg.Go(func() { c.serve(req) })
}

// reject answers req with SYSTEM_BUSY unless it is oneway. The reader
// writes it without waiting for queue room: waiting could deadlock two
// peers whose readers both wait on their writers.
func (c *Conn) reject(req *Command, remark string) {
	if req.IsOneway() {
		return
	}
	c.write(c.ctx, NewResponse(req, protocol.SystemBusy, remark), true)
}

// serve runs the handler for req and sends its response.
func (c *Conn) serve(req *Command) {
	defer c.release()
	defer func() {
		c.inFlight.Add(-1)
		if c.cfg.done != nil {
			c.cfg.done()
		}
	}()
	resp := c.call(req)
	if resp == nil || req.IsOneway() {
		return
	}
	resp.Opaque = req.Opaque
	resp.Flag |= FlagResponse
	resp.Serialize = req.Serialize
	err := c.write(c.ctx, resp, false)
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return
	}
	// The response cannot be encoded: say so rather than leave the
	// requester waiting for its timeout.
	c.cfg.log.Error("response not sent", "addr", c.nc.RemoteAddr().String(), "code", req.Code, "err", err)
	c.write(c.ctx, NewResponse(req, protocol.SystemError, "response not sent: "+err.Error()), false)
}

// call runs the handler. A panic is a bug, but it must not take the process
// down: it is logged and answered with SYSTEM_ERROR.
func (c *Conn) call(req *Command) (resp *Command) {
	defer func() {
		if p := recover(); p != nil {
			c.cfg.log.Error("handler panicked", "addr", c.nc.RemoteAddr().String(), "code", req.Code, "panic", p, "stack", string(debug.Stack()))
			resp = NewResponse(req, protocol.SystemError, fmt.Sprint(p))
		}
	}()
	return c.cfg.handler.ServeCommand(c.ctx, c, req)
}
