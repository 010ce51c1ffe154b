package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Handler serves requests the servers send; nil ignores them.
	Handler Handler
	// Logger receives connection-level logs. Default: discard.
	Logger *slog.Logger
	// DialTimeout bounds connecting. Default 3s.
	DialTimeout time.Duration
	// MaxFrameSize is the largest frame accepted. Default DefaultMaxFrameSize.
	MaxFrameSize int
}

// Client keeps one connection per address, dialled on first use and again
// after it breaks, and multiplexes requests on it. It is safe for
// concurrent use.
type Client struct {
	cfg connConfig
	dt  time.Duration

	mu     sync.Mutex
	conns  map[string]*Conn
	closed bool
	// conns tracks each connection's goroutines until they end, so that
	// Close can wait for all of them.
	wg sync.WaitGroup
}

// NewClient returns a Client.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{conns: map[string]*Conn{}, dt: cfg.DialTimeout}
	if c.dt <= 0 {
		c.dt = 3 * time.Second
	}
	c.cfg = connConfig{handler: cfg.Handler, log: cfg.Logger, maxFrame: cfg.MaxFrameSize, maxInFlight: 1024}
	if c.cfg.log == nil {
		c.cfg.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.maxFrame <= 0 {
		c.cfg.maxFrame = DefaultMaxFrameSize
	}
	return c
}

// Conn returns the connection to addr, dialling it if needed.
func (c *Client) Conn(ctx context.Context, addr string) (*Conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("dial %s: %w", addr, ErrClosed)
	}
	if cn := c.conns[addr]; cn != nil {
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	d := net.Dialer{Timeout: c.dt}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		nc.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, ErrClosed)
	}
	if cn := c.conns[addr]; cn != nil { // another caller won the race
		nc.Close()
		return cn, nil
	}
	cfg := c.cfg
	cfg.onClose = func(cn *Conn) {
		c.mu.Lock()
		if c.conns[addr] == cn {
			delete(c.conns, addr)
		}
		c.mu.Unlock()
	}
	cn := newConn(nc, cfg)
	c.conns[addr] = cn
	c.wg.Go(func() {
		<-cn.Done()
		cn.wait()
	})
	return cn, nil
}

// Invoke sends a request to addr and waits for the response.
func (c *Client) Invoke(ctx context.Context, addr string, req *Command) (*Command, error) {
	cn, err := c.Conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	return cn.Invoke(ctx, req)
}

// InvokeOneway sends a request to addr that gets no response.
func (c *Client) InvokeOneway(ctx context.Context, addr string, req *Command) error {
	cn, err := c.Conn(ctx, addr)
	if err != nil {
		return err
	}
	return cn.InvokeOneway(ctx, req)
}

// CloseConn closes the connection to addr, if any.
func (c *Client) CloseConn(addr string) {
	c.mu.Lock()
	cn := c.conns[addr]
	c.mu.Unlock()
	if cn != nil {
		cn.Close()
	}
}

// Close closes every connection and waits for their goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := make([]*Conn, 0, len(c.conns))
	for _, cn := range c.conns {
		conns = append(conns, cn)
	}
	c.mu.Unlock()
	for _, cn := range conns {
		cn.Close()
	}
	c.wg.Wait()
	return nil
}
