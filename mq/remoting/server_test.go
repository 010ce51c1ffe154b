package remoting

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// startServer serves h on a loopback port.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

func echoMux() *Mux {
	m := NewMux(nil)
	m.HandleFunc(1, func(ctx context.Context, c *Conn, req *Command) *Command {
		resp := NewResponse(req, 0, "")
		resp.Body = req.Body
		return resp
	})
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		d, _ := time.ParseDuration(req.Ext("sleep"))
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		resp := NewResponse(req, 0, "")
		resp.Body = req.Body
		return resp
	})
	m.HandleFunc(3, func(ctx context.Context, c *Conn, req *Command) *Command { panic("boom") })
	return m
}

func invoke(t *testing.T, cl *Client, addr string, req *Command) *Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return resp
}

func TestServerRequestResponse(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoMux()})
	cl := NewClient(ClientConfig{})
	defer cl.Close()
	resp := invoke(t, cl, addr, NewRequest(1, nil, []byte("ping")))
	if resp.Code != 0 || string(resp.Body) != "ping" || !resp.IsResponse() {
		t.Fatalf("echo: %+v", resp)
	}
	if resp := invoke(t, cl, addr, NewRequest(77, nil, nil)); resp.Code != protocol.RequestCodeNotSupported || resp.Remark != " request type 77 not supported" {
		t.Fatalf("unknown code: %d %q", resp.Code, resp.Remark)
	}
	if resp := invoke(t, cl, addr, NewRequest(3, nil, nil)); resp.Code != protocol.SystemError {
		t.Fatalf("panic: %d %q", resp.Code, resp.Remark)
	}
	// The binary header form is answered in kind.
	req := NewRequest(1, map[string]string{"a": "b"}, []byte("bin"))
	req.Serialize = RocketMQ
	if resp := invoke(t, cl, addr, req); resp.Serialize != RocketMQ || string(resp.Body) != "bin" {
		t.Fatalf("binary: %+v", resp)
	}
}

func TestServerOutOfOrderResponses(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoMux()})
	cl := NewClient(ClientConfig{})
	defer cl.Close()
	var wg sync.WaitGroup
	order := make(chan string, 2)
	wg.Go(func() {
		invoke(t, cl, addr, NewRequest(2, map[string]string{"sleep": "300ms"}, []byte("slow")))
		order <- "slow"
	})
	time.Sleep(50 * time.Millisecond)
	wg.Go(func() {
		invoke(t, cl, addr, NewRequest(1, nil, []byte("fast")))
		order <- "fast"
	})
	wg.Wait()
	if first := <-order; first != "fast" {
		t.Fatal("a slow request blocked a fast one on the same connection")
	}
}

func TestServerOneway(t *testing.T) {
	got := make(chan *Command, 1)
	m := NewMux(nil)
	m.HandleFunc(5, func(ctx context.Context, c *Conn, req *Command) *Command {
		got <- req
		return NewResponse(req, 0, "must not be sent")
	})
	addr := startServer(t, &Server{Handler: m})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := NewRequest(5, nil, nil)
	req.Flag = FlagOneway
	frame, _ := AppendFrame(nil, req)
	nc.Write(frame)
	<-got
	nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := nc.Read(make([]byte, 1)); n != 0 {
		t.Fatal("a oneway request was answered")
	}
}

// TestServerBadInputClosesConnection: oversized, truncated and garbage
// frames close the connection; the server keeps serving others.
func TestServerBadInputClosesConnection(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoMux(), MaxFrameSize: 1 << 20})
	big := make([]byte, 4)
	binary.BigEndian.PutUint32(big, 2<<20)
	for name, data := range map[string][]byte{
		"oversized":       big,
		"garbage":         []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"wrong serialize": {0, 0, 0, 6, 7, 0, 0, 2, '{', '}'},
		"truncated":       {0, 0, 0, 100, 0, 0, 0, 2, '{'},
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(data)
			if name == "truncated" {
				nc.(*net.TCPConn).CloseWrite()
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := nc.Read(make([]byte, 1)); err == nil {
				t.Fatal("connection still open after bad input")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("connection not closed after bad input")
			}
		})
	}
	cl := NewClient(ClientConfig{})
	defer cl.Close()
	if resp := invoke(t, cl, addr, NewRequest(1, nil, []byte("still"))); string(resp.Body) != "still" {
		t.Fatal("server stopped serving after bad input")
	}
}

func TestServerInitiatedRequest(t *testing.T) {
	var serverSide atomic.Pointer[Conn]
	m := NewMux(nil)
	m.HandleFunc(1, func(ctx context.Context, c *Conn, req *Command) *Command {
		serverSide.Store(c)
		return NewResponse(req, 0, "")
	})
	addr := startServer(t, &Server{Handler: m})
	got := make(chan *Command, 1)
	cl := NewClient(ClientConfig{Handler: HandlerFunc(func(ctx context.Context, c *Conn, req *Command) *Command {
		got <- req
		resp := NewResponse(req, 0, "")
		resp.Body = []byte("from client")
		return resp
	})})
	defer cl.Close()
	invoke(t, cl, addr, NewRequest(1, nil, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := serverSide.Load().Invoke(ctx, NewRequest(39, map[string]string{"x": "y"}, nil))
	if err != nil || string(resp.Body) != "from client" {
		t.Fatalf("server → client invoke: %v %v", resp, err)
	}
	if req := <-got; req.Code != 39 || req.Ext("x") != "y" {
		t.Fatalf("client got %+v", req)
	}
}

func TestServerOverload(t *testing.T) {
	release := make(chan struct{})
	m := NewMux(nil)
	m.HandleFunc(1, func(ctx context.Context, c *Conn, req *Command) *Command {
		<-release
		return NewResponse(req, 0, "")
	})
	addr := startServer(t, &Server{Handler: m, MaxInFlightPerConn: 2})
	cl := NewClient(ClientConfig{})
	defer cl.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { invoke(t, cl, addr, NewRequest(1, nil, nil)) })
	}
	time.Sleep(100 * time.Millisecond)
	resp := invoke(t, cl, addr, NewRequest(1, nil, nil))
	close(release)
	wg.Wait()
	if resp.Code != protocol.SystemBusy || resp.Remark[:10] != "[OVERLOAD]" {
		t.Fatalf("third request: %d %q", resp.Code, resp.Remark)
	}
}

func TestServerShutdownWaitsForInFlight(t *testing.T) {
	s := &Server{Handler: echoMux()}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go s.Serve(ln)
	cl := NewClient(ClientConfig{})
	defer cl.Close()
	res := make(chan *Command, 1)
	go func() {
		resp, _ := cl.Invoke(context.Background(), ln.Addr().String(), NewRequest(2, map[string]string{"sleep": "300ms"}, []byte("late")))
		res <- resp
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if resp := <-res; resp == nil || string(resp.Body) != "late" {
		t.Fatalf("in-flight request not answered before shutdown: %v", resp)
	}
}

// TestNoGoroutineLeak: servers, clients and connections leave nothing
// behind once closed.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	s := &Server{Handler: echoMux()}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error)
	go func() { done <- s.Serve(ln) }()
	cl := NewClient(ClientConfig{})
	for range 10 {
		invoke(t, cl, ln.Addr().String(), NewRequest(1, nil, nil))
	}
	cl.Close()
	s.Close()
	<-done
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInvokeOnClosedConn(t *testing.T) {
	addr := startServer(t, &Server{Handler: echoMux()})
	cl := NewClient(ClientConfig{})
	cn, err := cl.Conn(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := cn.Invoke(context.Background(), NewRequest(2, map[string]string{"sleep": "10s"}, nil))
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cl.Close()
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending invoke: %v, want ErrClosed", err)
	}
	if _, err := cn.Invoke(context.Background(), NewRequest(1, nil, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke after close: %v", err)
	}
}
