package remoting

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

func TestServerRequestResponse(t *testing.T) {
	checkGoroutines(t)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m})
	cl := newTestClient(t, ClientConfig{})
	for _, st := range []SerializeType{JSON, RocketMQ} {
		t.Run(st.String(), func(t *testing.T) {
			req := NewRequest(1, map[string]string{"topic": "T", "queueId": "3"}, []byte("ping"))
			req.Serialize = st
			resp := mustInvoke(t, cl, addr, req)
			if !resp.IsResponse() || resp.Code != 0 || resp.Remark != "echo" || string(resp.Body) != "ping" ||
				resp.Ext("queueId") != "3" || resp.Opaque != req.Opaque || resp.Serialize != st || resp.Language != Language {
				t.Fatalf("response %+v to %+v", resp, req)
			}
		})
	}
}

// TestServerOutOfOrder: a blocked handler does not hold up later requests
// on the same connection, and every response reaches its own caller.
func TestServerOutOfOrder(t *testing.T) {
	checkGoroutines(t)
	started, release := make(chan struct{}), make(chan struct{})
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		close(started)
		<-release
		return echo(ctx, c, req)
	})
	addr := startServer(t, &Server{Handler: m})
	cl := newTestClient(t, ClientConfig{})

	slow := make(chan *Command, 1)
	go func() {
		resp, _ := cl.Invoke(testContext(t), addr, NewRequest(2, nil, []byte("slow")))
		slow <- resp
	}()
	<-started
	// The slow request is held; many others are answered meanwhile, each
	// to its caller.
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				body := fmt.Sprintf("%d/%d", g, i)
				resp, err := cl.Invoke(testContext(t), addr, NewRequest(1, map[string]string{"i": body}, []byte(body)))
				if err != nil || string(resp.Body) != body || resp.Ext("i") != body {
					t.Errorf("request %s: %v, %v", body, resp, err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case resp := <-slow:
		t.Fatalf("the held request was answered before its release: %v", resp)
	default:
	}
	close(release)
	if resp := <-slow; resp == nil || string(resp.Body) != "slow" {
		t.Fatalf("held request: %v", resp)
	}
}

// TestServerOneway: a request with flag bit 1 gets no response even if its
// handler returns one; a request with flag 0 (the Go client's "oneway")
// does.
func TestServerOneway(t *testing.T) {
	checkGoroutines(t)
	returned := make(chan struct{})
	m := NewMux(nil)
	m.HandleFunc(5, func(ctx context.Context, c *Conn, req *Command) *Command {
		defer close(returned)
		return NewResponse(req, 0, "must not be sent")
	})
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m})
	rc := dialRaw(t, addr)

	oneway := NewRequest(5, nil, nil)
	oneway.Opaque, oneway.Flag = 100, FlagOneway
	rc.send(oneway)
	<-returned
	ping := NewRequest(1, nil, []byte("ping"))
	ping.Opaque = 101
	rc.send(ping)
	if resp := rc.recv(); resp.Opaque != 101 {
		t.Fatalf("first frame after a oneway request answers opaque %d, want the ping's 101", resp.Opaque)
	}

	// Over a Client too: InvokeOneway sets the bit.
	cl := newTestClient(t, ClientConfig{})
	req := NewRequest(1, nil, nil)
	if err := cl.InvokeOneway(testContext(t), addr, req); err != nil || !req.IsOneway() {
		t.Fatalf("InvokeOneway: %v, flag %d", err, req.Flag)
	}
}

func TestMuxUnknownCode(t *testing.T) {
	checkGoroutines(t)
	addr := startServer(t, &Server{Handler: NewMux(nil)})
	cl := newTestClient(t, ClientConfig{})
	for _, st := range []SerializeType{JSON, RocketMQ} {
		req := NewRequest(777, nil, nil)
		req.Serialize = st
		resp := mustInvoke(t, cl, addr, req)
		if resp.Code != protocol.RequestCodeNotSupported || resp.Remark != " request type 777 not supported" || resp.Serialize != st {
			t.Fatalf("%v: got %d %q", st, resp.Code, resp.Remark)
		}
	}
}

func TestMuxPanic(t *testing.T) {
	checkGoroutines(t)
	logs := &logRecorder{}
	m := NewMux(slog.New(logs))
	m.HandleFunc(3, func(ctx context.Context, c *Conn, req *Command) *Command { panic("boom") })
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m})
	cl := newTestClient(t, ClientConfig{})
	resp := mustInvoke(t, cl, addr, NewRequest(3, nil, nil))
	if resp.Code != protocol.SystemError || resp.Remark != "boom" {
		t.Fatalf("panicking handler answered %d %q", resp.Code, resp.Remark)
	}
	if got := logs.find(slog.LevelError, "handler panicked"); len(got) != 1 || got[0]["panic"] != "boom" || got[0]["code"] != "3" || !strings.Contains(got[0]["stack"], "TestMuxPanic") {
		t.Fatalf("logged %v", got)
	}
	// The server and the connection live on.
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, []byte("alive"))); string(resp.Body) != "alive" {
		t.Fatalf("after a panic: %v", resp)
	}
}

// TestServerHandlerPanicWithoutMux: the connection recovers a panic of any
// Handler, not just of a Mux's.
func TestServerHandlerPanicWithoutMux(t *testing.T) {
	checkGoroutines(t)
	addr := startServer(t, &Server{Handler: HandlerFunc(func(ctx context.Context, c *Conn, req *Command) *Command {
		panic(fmt.Errorf("bad %d", req.Code))
	})})
	cl := newTestClient(t, ClientConfig{})
	if resp := mustInvoke(t, cl, addr, NewRequest(8, nil, nil)); resp.Code != protocol.SystemError || resp.Remark != "bad 8" {
		t.Fatalf("got %d %q", resp.Code, resp.Remark)
	}
}

// TestServerBadInput: every kind of bad input closes its connection with
// one warning naming the peer; the server keeps serving others.
func TestServerBadInput(t *testing.T) {
	checkGoroutines(t)
	const maxFrame = 1 << 20
	cases := []struct {
		name    string
		data    []byte
		closeWr bool // end our side so that the server sees EOF
		errText string
	}{
		{"oversized", binary.BigEndian.AppendUint32(nil, maxFrame+1), false, "frame larger"},
		{"truncated", frameBytes(jsonFrame(`{"code":1}`))[:10], true, "truncated"},
		{"truncated length", []byte{0, 0}, true, "truncated"},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, "frame larger"},
		{"length below 4", []byte{0, 0, 0, 2, 0, 0}, false, "malformed"},
		{"wrong serialize type", frameBytes([]byte{7, 0, 0, 2, '{', '}'}), false, "unknown serialize type"},
		{"header longer than frame", frameBytes([]byte{0, 0, 0, 9, '{', '}'}), false, "header length"},
		{"undecodable json", frameBytes(jsonFrame(`{"code":"x"}`)), false, "JSON header"},
		{"undecodable binary", frameBytes(binaryFrame(1, 2, 3)), false, "binary header"},
	}
	logs := &logRecorder{}
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m, MaxFrameSize: maxFrame, Logger: slog.New(logs)})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			if _, err := rc.nc.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if tc.closeWr {
				rc.nc.(*net.TCPConn).CloseWrite()
			}
			rc.waitClosed()
		})
	}
	// The connection closes after the warning is logged.
	warnings := logs.find(slog.LevelWarn, "closing connection")
	if len(warnings) != len(cases) {
		t.Fatalf("%d warnings for %d bad connections: %v", len(warnings), len(cases), warnings)
	}
	for i, w := range warnings {
		if !strings.Contains(w["err"], cases[i].errText) || !strings.HasPrefix(w["addr"], "127.0.0.1:") {
			t.Errorf("%s: warning %v, want err containing %q", cases[i].name, w, cases[i].errText)
		}
	}
	cl := newTestClient(t, ClientConfig{})
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, []byte("still"))); string(resp.Body) != "still" {
		t.Fatal("the server stopped serving after bad input")
	}
}

// TestClientBadInput: a client closes a connection on which the server
// sends garbage, and fails the pending request at once.
func TestClientBadInput(t *testing.T) {
	checkGoroutines(t)
	addr := fakePeer(t, func(nc net.Conn) {
		buf := make([]byte, 4)
		nc.Read(buf) // the request has arrived
		nc.Write(frameBytes(binaryFrame(9)))
		nc.Read(buf) // until the client hangs up
	})
	logs := &logRecorder{}
	cl := newTestClient(t, ClientConfig{Logger: slog.New(logs)})
	_, err := cl.Invoke(testContext(t), addr, NewRequest(1, nil, nil))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if w := logs.find(slog.LevelWarn, "closing connection"); len(w) != 1 || !strings.Contains(w[0]["err"], "binary header") {
		t.Fatalf("warnings %v", w)
	}
}

func frameBytes(frame []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(frame))), frame...)
}

// TestServerInitiatedRequest: the broker's side of a connection sends a
// request (as CHECK_TRANSACTION_STATE does) to the client that opened it.
func TestServerInitiatedRequest(t *testing.T) {
	checkGoroutines(t)
	conns := make(chan *Conn, 1)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m, OnConnect: func(c *Conn) { conns <- c }})
	got := make(chan *Command, 2)
	cl := newTestClient(t, ClientConfig{Handler: HandlerFunc(func(ctx context.Context, c *Conn, req *Command) *Command {
		got <- req
		resp := NewResponse(req, 0, "")
		resp.Body = []byte("checked " + req.Ext("msgId"))
		return resp
	})})
	mustInvoke(t, cl, addr, NewRequest(1, nil, nil))
	sc := <-conns

	resp, err := sc.Invoke(testContext(t), NewRequest(protocol.CheckTransactionState, map[string]string{"msgId": "M1"}, nil))
	if err != nil || string(resp.Body) != "checked M1" || resp.Opaque != 1 {
		t.Fatalf("server to client invoke: %v, %v", resp, err)
	}
	if req := <-got; req.Code != protocol.CheckTransactionState || req.Ext("msgId") != "M1" {
		t.Fatalf("client got %+v", req)
	}
	// Oneway, as Java brokers send CHECK_TRANSACTION_STATE.
	if err := sc.InvokeOneway(testContext(t), NewRequest(protocol.CheckTransactionState, map[string]string{"msgId": "M2"}, nil)); err != nil {
		t.Fatal(err)
	}
	if req := <-got; req.Ext("msgId") != "M2" || !req.IsOneway() || req.Opaque != 2 {
		t.Fatalf("client got %+v", req)
	}
}

// TestClientWithoutHandler: requests from the server are ignored, and the
// connection keeps working.
func TestClientWithoutHandler(t *testing.T) {
	checkGoroutines(t)
	conns := make(chan *Conn, 1)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	addr := startServer(t, &Server{Handler: m, OnConnect: func(c *Conn) { conns <- c }})
	cl := newTestClient(t, ClientConfig{})
	mustInvoke(t, cl, addr, NewRequest(1, nil, nil))
	sc := <-conns
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := sc.Invoke(ctx, NewRequest(40, nil, nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want no answer", err)
	}
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, []byte("x"))); string(resp.Body) != "x" {
		t.Fatal("connection broken")
	}
}

func TestServerOverload(t *testing.T) {
	checkGoroutines(t)
	started, release := make(chan struct{}, 2), make(chan struct{})
	m := NewMux(nil)
	m.HandleFunc(1, func(ctx context.Context, c *Conn, req *Command) *Command {
		started <- struct{}{}
		<-release
		return NewResponse(req, 0, "")
	})
	addr := startServer(t, &Server{Handler: m, MaxInFlightPerConn: 2})
	cl := newTestClient(t, ClientConfig{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, nil)); resp.Code != 0 {
				t.Errorf("held request answered %d %q", resp.Code, resp.Remark)
			}
		})
	}
	<-started
	<-started
	for _, st := range []SerializeType{JSON, RocketMQ} {
		req := NewRequest(1, nil, nil)
		req.Serialize = st
		resp := mustInvoke(t, cl, addr, req)
		if resp.Code != protocol.SystemBusy || !strings.HasPrefix(resp.Remark, "[OVERLOAD]") || !strings.Contains(resp.Remark, "2") || resp.Serialize != st {
			t.Fatalf("third request: %d %q", resp.Code, resp.Remark)
		}
	}
	close(release)
	wg.Wait()
	// Below the limit again (started has room: the handler does not block).
	if resp := mustInvoke(t, cl, addr, NewRequest(1, nil, nil)); resp.Code != 0 {
		t.Fatalf("after the overload: %d %q", resp.Code, resp.Remark)
	}
}

// TestServerShutdownWaitsForInFlight: Shutdown refuses new requests, lets a
// running handler finish and its response reach the client, and only then
// closes the connection.
func TestServerShutdownWaitsForInFlight(t *testing.T) {
	checkGoroutines(t)
	started, release := make(chan struct{}), make(chan struct{})
	var released atomic.Bool
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		close(started)
		<-release
		return echo(ctx, c, req)
	})
	disconnected := make(chan struct{})
	s := &Server{Handler: m, OnDisconnect: func(*Conn) { close(disconnected) }}
	addr := startServer(t, s)
	cl := newTestClient(t, ClientConfig{})
	held := make(chan *Command, 1)
	go func() {
		resp, _ := cl.Invoke(testContext(t), addr, NewRequest(2, nil, []byte("late")))
		held <- resp
	}()
	<-started

	shutdown := make(chan error, 1)
	go func() { shutdown <- s.Shutdown(testContext(t)) }()
	for !s.shutting.Load() {
		time.Sleep(time.Millisecond)
	}
	resp := mustInvoke(t, cl, addr, NewRequest(1, nil, nil))
	if resp.Code != protocol.SystemBusy || !strings.HasPrefix(resp.Remark, "[REJECTREQUEST]") {
		t.Fatalf("request during shutdown: %d %q", resp.Code, resp.Remark)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("the server still accepts connections")
	}

	released.Store(true)
	close(release)
	if err := <-shutdown; err != nil {
		t.Fatal(err)
	}
	if !released.Load() {
		t.Fatal("Shutdown returned before the handler finished")
	}
	if resp := <-held; resp == nil || string(resp.Body) != "late" {
		t.Fatalf("in-flight request not answered before the connection closed: %v", resp)
	}
	select {
	case <-disconnected:
	default:
		t.Fatal("Shutdown returned before OnDisconnect ran")
	}
	if err := s.Shutdown(testContext(t)); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestServerShutdownDeadline: when ctx ends first, Shutdown cancels the
// handlers' contexts, waits for them anyway and returns ctx's error.
func TestServerShutdownDeadline(t *testing.T) {
	checkGoroutines(t)
	started := make(chan struct{})
	var returned atomic.Bool
	m := NewMux(nil)
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		close(started)
		<-ctx.Done()
		returned.Store(true)
		return nil
	})
	s := &Server{Handler: m}
	addr := startServer(t, s)
	cl := newTestClient(t, ClientConfig{})
	failed := make(chan error, 1)
	go func() {
		_, err := cl.Invoke(testContext(t), addr, NewRequest(2, nil, nil))
		failed <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if !returned.Load() {
		t.Fatal("Shutdown returned before the handler")
	}
	if err := <-failed; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending invoke: %v, want ErrClosed", err)
	}
}

func TestServerIdleTimeout(t *testing.T) {
	checkGoroutines(t)
	logs := &logRecorder{}
	addr := startServer(t, &Server{Handler: NewMux(nil), IdleTimeout: 50 * time.Millisecond, Logger: slog.New(logs)})
	rc := dialRaw(t, addr)
	start := time.Now()
	rc.waitClosed()
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", d)
	}
	if len(logs.find(slog.LevelInfo, "closing idle connection")) != 1 {
		t.Fatal("idle close not logged")
	}
}

func TestServerOnConnectDisconnect(t *testing.T) {
	checkGoroutines(t)
	var connected atomic.Pointer[Conn]
	var handlerDone atomic.Bool
	started := make(chan struct{})
	gone := make(chan *Conn, 1)
	m := NewMux(nil)
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		if connected.Load() != c {
			t.Error("a request was served before OnConnect")
		}
		close(started)
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond) // a slow cleanup OnDisconnect must wait for
		handlerDone.Store(true)
		return nil
	})
	addr := startServer(t, &Server{
		Handler:   m,
		OnConnect: func(c *Conn) { connected.Store(c) },
		OnDisconnect: func(c *Conn) {
			if !handlerDone.Load() {
				t.Error("OnDisconnect ran while a handler of the connection still ran")
			}
			gone <- c
		},
	})
	cl := newTestClient(t, ClientConfig{})
	go cl.Invoke(testContext(t), addr, NewRequest(2, nil, nil))
	<-started
	cl.CloseConn(addr)
	if c := <-gone; c != connected.Load() || c.RemoteAddr() == nil || c.LocalAddr().String() != addr {
		t.Fatalf("OnDisconnect got %v, want the connected %v", c, connected.Load())
	}
}

func TestServerServeAfterClose(t *testing.T) {
	s := &Server{}
	if s.Addr() != nil {
		t.Fatal("Addr before Serve")
	}
	s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("Serve left the listener open")
	}
}

func TestServerListenAndServe(t *testing.T) {
	checkGoroutines(t)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	s := &Server{Handler: m}
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe("127.0.0.1:0") }()
	for s.Addr() == nil {
		time.Sleep(time.Millisecond)
	}
	cl := newTestClient(t, ClientConfig{})
	if resp := mustInvoke(t, cl, s.Addr().String(), NewRequest(1, nil, []byte("x"))); string(resp.Body) != "x" {
		t.Fatal(resp)
	}
	if err := s.Shutdown(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ListenAndServe: %v", err)
	}
	if err := (&Server{}).ListenAndServe("256.0.0.1:0"); err == nil {
		t.Fatal("ListenAndServe on a bad address")
	}
}

// TestNoGoroutineLeak: many clients and connections, requests in flight in
// both directions, then everything closed: nothing is left running.
func TestNoGoroutineLeak(t *testing.T) {
	checkGoroutines(t)
	m := NewMux(nil)
	m.HandleFunc(1, echo)
	held := make(chan struct{}, 5)
	m.HandleFunc(2, func(ctx context.Context, c *Conn, req *Command) *Command {
		held <- struct{}{}
		<-ctx.Done() // held until its connection closes
		return nil
	})
	s := &Server{Handler: m}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()
	var wg sync.WaitGroup
	var clients []*Client
	for range 5 {
		cl := NewClient(ClientConfig{Handler: HandlerFunc(echo)})
		clients = append(clients, cl)
		for i := range 20 {
			mustInvoke(t, cl, addr, NewRequest(1, nil, []byte(strconv.Itoa(i))))
		}
		wg.Go(func() {
			if _, err := cl.Invoke(context.Background(), addr, NewRequest(2, nil, nil)); !errors.Is(err, ErrClosed) {
				t.Errorf("held request: %v, want ErrClosed", err)
			}
		})
	}
	for range clients {
		<-held
	}
	s.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	wg.Wait()
	for _, cl := range clients {
		cl.Close()
	}
}
