package remoting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ClientConfig configures a Client. The zero value is valid.
type ClientConfig struct {
	// Handler serves the requests servers send on our connections; nil
	// ignores them (no response), as the Go client does with codes it
	// does not know.
	Handler Handler
	// Logger receives connection-level events. Default: discard.
	Logger *slog.Logger
	// DialTimeout bounds connecting. Default 3 s.
	DialTimeout time.Duration
	// MaxFrameSize is the largest frame read or written, in bytes.
	// Default DefaultMaxFrameSize.
	MaxFrameSize int
}

// Client keeps one connection per address, dialled on first use and again
// after it broke, and multiplexes concurrent requests on it, as the official
// clients do. It is safe for concurrent use.
type Client struct {
	cfg         connConfig
	dialTimeout time.Duration
	dialCtx     context.Context // cancelled by Close: aborts dials
	stopDials   context.CancelFunc

	mu     sync.Mutex // guards the fields below, and orders wg.Add before wg.Wait
	conns  map[string]*Conn
	dials  map[string]*dialCall
	closed bool
	wg     sync.WaitGroup // dials and every connection goroutine
}

// dialCall is a dial in progress; callers for the same address share it.
type dialCall struct {
	done chan struct{} // closed when conn or err is set
	conn *Conn
	err  error
}

// NewClient returns a Client. Close it to release its connections.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{
		dialTimeout: cfg.DialTimeout,
		conns:       map[string]*Conn{},
		dials:       map[string]*dialCall{},
	}
	if c.dialTimeout <= 0 {
		c.dialTimeout = 3 * time.Second
	}
	c.dialCtx, c.stopDials = context.WithCancel(context.Background())
	c.cfg = connConfig{
		handler:  cfg.Handler,
		log:      cfg.Logger,
		maxFrame: cfg.MaxFrameSize,
		wg:       &c.wg,
		closed:   c.dropConn,
	}
	c.cfg.setDefaults()
	return c
}

// Conn returns the connection to addr, dialling it if there is none. Callers
// asking for the same address while it is being dialled share the dial,
// which DialTimeout bounds; ctx bounds only the caller's wait.
func (c *Client) Conn(ctx context.Context, addr string) (*Conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("connect to %s: %w", addr, ErrClosed)
	}
	if cn := c.conns[addr]; cn != nil && !cn.isClosed() {
		c.mu.Unlock()
		return cn, nil
	}
	dc := c.dials[addr]
	if dc == nil {
		dc = &dialCall{done: make(chan struct{})}
		c.dials[addr] = dc
		c.wg.Add(1)
		go c.dial(addr, dc)
	}
	c.mu.Unlock()
	select {
	case <-dc.done:
		return dc.conn, dc.err
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to %s: %w", addr, ctx.Err())
	}
}

func (c *Client) dial(addr string, dc *dialCall) {
	defer c.wg.Done()
	d := net.Dialer{Timeout: c.dialTimeout}
	nc, err := d.DialContext(c.dialCtx, "tcp", addr)
	c.mu.Lock()
	delete(c.dials, addr)
	if err == nil && c.closed {
		nc.Close()
		err = ErrClosed
	}
	if err != nil {
		c.mu.Unlock()
		dc.err = fmt.Errorf("connect to %s: %w", addr, err)
		close(dc.done)
		return
	}
	cn := newConn(nc, &c.cfg, addr)
	c.conns[addr] = cn
	c.wg.Add(2) // reader and writer, before Close's Wait
	c.mu.Unlock()
	cn.start(nil)
	dc.conn = cn
	close(dc.done)
}

// dropConn forgets a closed connection so that the next request redials.
func (c *Client) dropConn(cn *Conn) {
	c.mu.Lock()
	if c.conns[cn.key] == cn {
		delete(c.conns, cn.key)
	}
	c.mu.Unlock()
}

// Invoke sends req to addr and waits for the response; see Conn.Invoke. A
// request that could not leave because the connection had just closed is
// sent once more on a fresh connection.
func (c *Client) Invoke(ctx context.Context, addr string, req *Command) (*Command, error) {
	for attempt := 0; ; attempt++ {
		cn, err := c.Conn(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, sent, err := cn.invoke(ctx, req)
		if err != nil && !sent && attempt == 0 && errors.Is(err, ErrClosed) {
			c.dropConn(cn) // it may be closing still: do not get it again
			continue
		}
		return resp, err
	}
}

// InvokeOneway sends req to addr with FlagOneway set; see Conn.InvokeOneway.
func (c *Client) InvokeOneway(ctx context.Context, addr string, req *Command) error {
	cn, err := c.Conn(ctx, addr)
	if err != nil {
		return err
	}
	return cn.InvokeOneway(ctx, req)
}

// CloseConn closes the connection to addr, if there is one; the next
// request to addr dials again.
func (c *Client) CloseConn(addr string) {
	c.mu.Lock()
	cn := c.conns[addr]
	c.mu.Unlock()
	if cn != nil {
		cn.Close()
	}
}

// Close writes out what was queued, closes every connection, fails the
// requests in flight with ErrClosed and waits for every goroutine of the client, handlers
// included. It may be called more than once and always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := make([]*Conn, 0, len(c.conns))
	for _, cn := range c.conns {
		conns = append(conns, cn)
	}
	c.mu.Unlock()
	c.stopDials()
	// What callers queued before Close (oneway sends above all, which
	// nothing else waits for) is written first; a peer that does not read
	// gets closeFlushTimeout, then the connection is cut.
	for _, cn := range conns {
		cn.closeAfterFlush()
	}
	deadline := time.NewTimer(closeFlushTimeout)
	defer deadline.Stop()
	for _, cn := range conns {
		select {
		case <-cn.Done():
		case <-deadline.C:
			deadline.Reset(0)
		}
		cn.Close()
	}
	c.wg.Wait()
	return nil
}

// closeFlushTimeout bounds how long Client.Close waits for its connections
// to write what was queued before it.
const closeFlushTimeout = 3 * time.Second
