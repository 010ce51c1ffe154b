package remoting

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientSharesConnection: concurrent first requests to one address
// share one dial and one connection.
func TestClientSharesConnection(t *testing.T) {
	checkGoroutines(t)
	var accepted atomic.Int32
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m, OnConnect: func(*Conn) { accepted.Add(1) }})
	cl := newTestClient(t, ClientConfig{})
	conns := make(chan *Conn, 20)
	var wg sync.WaitGroup
	for range cap(conns) {
		wg.Go(func() {
			c, err := cl.Conn(testContext(t), addr)
			if err != nil {
				t.Error(err)
			}
			conns <- c
		})
	}
	wg.Wait()
	close(conns)
	first := <-conns
	for c := range conns {
		if c != first {
			t.Fatal("two connections to one address")
		}
	}
	mustInvoke(t, cl, addr, NewRequest(1, nil, nil))
	if n := accepted.Load(); n != 1 {
		t.Fatalf("the server accepted %d connections", n)
	}
}

// TestClientRedials: after its connection broke, the next request dials a
// new one.
func TestClientRedials(t *testing.T) {
	checkGoroutines(t)
	conns := make(chan *Conn, 2)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m, OnConnect: func(c *Conn) { conns <- c }})
	cl := newTestClient(t, ClientConfig{})
	first, err := cl.Conn(testContext(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	(<-conns).Close() // the server hangs up
	<-first.Done()
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, []byte("again"))); string(resp.Body) != "again" {
		t.Fatal(resp)
	}
	second, err := cl.Conn(testContext(t), addr)
	if err != nil || second == first {
		t.Fatalf("no new connection: %v", err)
	}
	<-conns
	// CloseConn drops it the same way.
	cl.CloseConn(addr)
	<-second.Done()
	mustInvoke(t, cl, addr, NewRequest(1, nil, nil))
	cl.CloseConn("127.0.0.1:1") // unknown address: nothing happens
}

// TestClientInvokeRetriesClosedConn: a request that could not leave on a
// connection closed under it is sent on a fresh one.
func TestClientInvokeRetriesClosedConn(t *testing.T) {
	checkGoroutines(t)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m})
	cl := newTestClient(t, ClientConfig{})
	c, err := cl.Conn(testContext(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	// Close the connection without letting the client forget it yet, as
	// if the close raced with the request.
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, []byte("retried"))); string(resp.Body) != "retried" {
		t.Fatal(resp)
	}
	c.Close()
}

func TestClientDialErrors(t *testing.T) {
	checkGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	cl := newTestClient(t, ClientConfig{DialTimeout: time.Second})
	if _, err := cl.Invoke(testContext(t), addr, NewRequest(1, nil, nil)); err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("invoke to a closed port: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := cl.Conn(ctx, addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("Conn with a cancelled context: %v", err)
	}
	if err := cl.InvokeOneway(testContext(t), addr, NewRequest(1, nil, nil)); err == nil {
		t.Fatal("oneway to a closed port")
	}
}

// TestClientClose: Close fails pending requests at once with ErrClosed and
// refuses new ones.
func TestClientClose(t *testing.T) {
	checkGoroutines(t)
	started := make(chan struct{})
	m := NewMux(nil)
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		close(started)
		<-ctx.Done()
		return nil
	})
	addr := startServer(t, &Server{Handler: m})
	cl := NewClient(ClientConfig{})
	c, err := cl.Conn(testContext(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	go func() {
		_, err := cl.Invoke(testContext(t), addr, NewRequest(2, nil, nil))
		failed <- err
	}()
	<-started
	cl.Close()
	if err := <-failed; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending invoke: %v, want ErrClosed", err)
	}
	if _, err := c.Invoke(testContext(t), NewRequest(1, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke on a closed connection: %v", err)
	}
	if err := c.WriteCommand(testContext(t), NewRequest(1, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write on a closed connection: %v", err)
	}
	if _, err := cl.Invoke(testContext(t), addr, NewRequest(1, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke on a closed client: %v", err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInvokeTimeoutLateResponse: a response that arrives after its caller
// gave up is dropped, and the connection goes on.
func TestInvokeTimeoutLateResponse(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	answered := make(chan struct{})
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		<-release
		defer close(answered)
		return echo(ctx, c, req)
	})
	addr := startServer(t, &Server{Handler: m})
	cl := newTestClient(t, ClientConfig{})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := cl.Invoke(ctx, addr, NewRequest(2, nil, nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	close(release)
	<-answered
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, []byte("next"))); string(resp.Body) != "next" {
		t.Fatalf("after a late response: %v", resp)
	}
	c, _ := cl.Conn(testContext(t), addr)
	c.mu.Lock()
	n := len(c.pending)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d requests still pending", n)
	}
}

// TestUnknownOpaqueDropped: a response nobody waits for is dropped and the
// right one still reaches its caller.
func TestUnknownOpaqueDropped(t *testing.T) {
	checkGoroutines(t)
	addr := fakePeer(t, func(nc net.Conn) {
		r := bufio.NewReader(nc)
		frame, err := readFrame(r, DefaultMaxFrameSize)
		if err != nil {
			t.Error(err)
			return
		}
		req, err := DecodeFrame(frame)
		if err != nil {
			t.Error(err)
			return
		}
		stray := NewResponse(req, 0, "stray")
		stray.Opaque = req.Opaque + 1000
		out, _ := AppendFrame(nil, stray)
		out, _ = AppendFrame(out, NewResponse(req, 0, "mine"))
		nc.Write(out)
		r.ReadByte() // until the client hangs up
	})
	cl := newTestClient(t, ClientConfig{})
	resp := mustInvoke(t, cl, addr, NewRequest(1, nil, nil))
	if resp.Remark != "mine" {
		t.Fatalf("got %q", resp.Remark)
	}
	cl.Close()
}

// TestWriteBackpressure: writing to a peer that does not read blocks once
// the queue is full, until ctx ends.
func TestWriteBackpressure(t *testing.T) {
	checkGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		peer <- nc
	}()
	cl := newTestClient(t, ClientConfig{})
	c, err := cl.Conn(testContext(t), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc := <-peer
	defer nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	body := make([]byte, 1<<20)
	var n int
	for ; n < 1024; n++ {
		if err = c.WriteCommand(ctx, NewRequest(1, nil, body)); err != nil {
			break
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after %d MiB: %v, want DeadlineExceeded", n, err)
	}
	c.w.mu.Lock()
	queued := len(c.w.buf)
	c.w.mu.Unlock()
	if queued > queueSoftLimit+len(body)+64 {
		t.Fatalf("%d bytes queued, over the limit", queued)
	}
}

func TestWriteFrameTooLarge(t *testing.T) {
	checkGoroutines(t)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m})
	cl := newTestClient(t, ClientConfig{MaxFrameSize: 1 << 10})
	c, err := cl.Conn(testContext(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteCommand(testContext(t), NewRequest(1, nil, make([]byte, 1<<10))); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
	if _, err := c.Invoke(testContext(t), &Command{Code: 1, Serialize: 9}); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("got %v, want ErrBadFrame", err)
	}
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, []byte("fine"))); string(resp.Body) != "fine" {
		t.Fatal(resp)
	}
}

// TestResponseNotEncodable: a response that cannot be encoded becomes a
// SYSTEM_ERROR answer rather than silence.
func TestResponseNotEncodable(t *testing.T) {
	checkGoroutines(t)
	m := NewMux(nil)
	m.HandleFunc(1, func(ctx context.Context, c *Conn, req *Command) *Command {
		resp := NewResponse(req, 0, "")
		resp.Body = make([]byte, 2<<10)
		return resp
	})
	addr := startServer(t, &Server{Handler: m, MaxFrameSize: 1 << 10})
	cl := newTestClient(t, ClientConfig{})
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, nil)); resp.Code != 1 || len(resp.Body) != 0 {
		t.Fatalf("got %d %q", resp.Code, resp.Remark)
	}
}

// pipeConn runs a Conn on one end of a net.Pipe, whose writes block until
// the other end reads: a peer that does not read is the default.
func pipeConn(t *testing.T, cfg connConfig) (*Conn, net.Conn) {
	t.Helper()
	ours, peer := net.Pipe()
	var wg sync.WaitGroup
	cfg.wg = &wg
	cfg.setDefaults()
	c := newConn(ours, &cfg, "")
	wg.Add(2)
	c.start(nil)
	t.Cleanup(func() {
		c.Close()
		peer.Close()
		wg.Wait()
	})
	return c, peer
}

// TestConnPeerNotReading: a peer that sends requests but reads none of the
// answers fills the write queue; past the hard limit the connection closes
// instead of growing.
func TestConnPeerNotReading(t *testing.T) {
	checkGoroutines(t)
	logs := &logRecorder{}
	c, peer := pipeConn(t, connConfig{
		handler: HandlerFunc(func(ctx context.Context, c *Conn, req *Command) *Command {
			<-ctx.Done()
			return nil
		}),
		log:         slog.New(logs),
		maxInFlight: 1, // every request after the first is rejected by the reader
		hardLimit:   4 << 10,
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		frame, _ := AppendFrame(nil, NewRequest(1, nil, nil))
		for {
			if _, err := peer.Write(frame); err != nil {
				return // closed
			}
		}
	})
	<-c.Done()
	if w := logs.find(slog.LevelWarn, "closing connection"); len(w) != 1 || !strings.Contains(w[0]["err"], "does not read") {
		t.Fatalf("warnings %v", w)
	}
	peer.Close()
}

// TestClientCloseFlushesOneway: oneway requests queued just before Close
// reach the server (2 of 50 used to be lost when the connection was cut
// with frames still queued).
func TestClientCloseFlushesOneway(t *testing.T) {
	checkGoroutines(t)
	const n = 500
	var got atomic.Int64
	all := make(chan struct{})
	m := NewMux(nil)
	m.HandleFunc(1, func(ctx context.Context, c *Conn, req *Command) *Command {
		if got.Add(1) == n {
			close(all)
		}
		return nil
	})
	addr := startServer(t, &Server{Handler: m})
	cl := NewClient(ClientConfig{})
	body := make([]byte, 4096)
	for range n {
		if err := cl.InvokeOneway(testContext(t), addr, NewRequest(1, nil, body)); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("the server got %d of %d oneway requests sent before Close", got.Load(), n)
	}
}
