package remoting

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// sendMessageExt is the ext of a SEND_MESSAGE (10) request as the Go client
// v2.1.2 sends it (rocketmq-wire-protocol.md, section 5.1).
func sendMessageExt() map[string]string {
	return map[string]string{
		"producerGroup":         "please_rename_unique_group_name",
		"topic":                 "TopicTest",
		"defaultTopic":          "TBW102",
		"defaultTopicQueueNums": "4",
		"queueId":               "2",
		"sysFlag":               "0",
		"bornTimestamp":         "1763812345678",
		"flag":                  "0",
		"properties":            "KEYS\x01order-42\x02UNIQ_KEY\x01C0A80001A8E418B4AAC2673E4A2C0000\x02WAIT\x01true\x02TAGS\x01TagA\x02",
		"reconsumeTimes":        "0",
		"unitMode":              "false",
		"batch":                 "false",
		"maxReconsumeTimes":     "0",
	}
}

// equalCommand compares two commands; a nil and an empty ext map or body
// are equal, as the wire cannot tell them apart.
func equalCommand(a, b *Command) bool {
	return a.Code == b.Code && a.Language == b.Language && a.Version == b.Version &&
		a.Opaque == b.Opaque && a.Flag == b.Flag && a.Remark == b.Remark &&
		a.Serialize == b.Serialize && bytes.Equal(a.Body, b.Body) &&
		(len(a.ExtFields) == 0 && len(b.ExtFields) == 0 || maps.Equal(a.ExtFields, b.ExtFields))
}

// logRecorder is a slog.Handler that keeps the records it gets.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// find returns the records with the given level and message, each as a map
// of its attributes.
func (r *logRecorder) find(level slog.Level, msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.records {
		if rec.Level != level || rec.Message != msg {
			continue
		}
		attrs := map[string]string{}
		rec.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

// checkGoroutines fails the test if, once its cleanups ran, more
// goroutines run than when it started. Register it first: cleanups run
// last-in first-out, so it runs after the servers and clients closed.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		// Close waits for every goroutine it owns; what may remain for a
		// moment is the test's own helpers returning.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines before the test, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// startServer serves s on a loopback port until the test ends, and checks
// that Serve then returns ErrServerClosed.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

func newTestClient(t *testing.T, cfg ClientConfig) *Client {
	t.Helper()
	cl := NewClient(cfg)
	t.Cleanup(func() { cl.Close() })
	return cl
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustInvoke(t *testing.T, cl *Client, addr string, req *Command) *Command {
	t.Helper()
	resp, err := cl.Invoke(testContext(t), addr, req)
	if err != nil {
		t.Fatalf("invoke code %d: %v", req.Code, err)
	}
	return resp
}

// echo answers with the request's code as response code, ext and body.
func echo(ctx context.Context, c *Conn, req *Command) *Command {
	resp := NewResponse(req, 0, "echo")
	resp.ExtFields = req.ExtFields
	resp.Body = req.Body
	return resp
}

// rawConn is a TCP connection that speaks frames by hand, to send what our
// own Conn never would.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (rc *rawConn) send(c *Command) {
	rc.t.Helper()
	frame, err := AppendFrame(nil, c)
	if err != nil {
		rc.t.Fatal(err)
	}
	if _, err := rc.nc.Write(frame); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawConn) recv() *Command {
	rc.t.Helper()
	frame, err := readFrame(rc.r, DefaultMaxFrameSize)
	if err != nil {
		rc.t.Fatalf("read a frame: %v", err)
	}
	c, err := DecodeFrame(frame)
	if err != nil {
		rc.t.Fatalf("decode a frame: %v", err)
	}
	return c
}

// waitClosed reads until the server closes the connection and fails the
// test if it does not within the connection's deadline.
func (rc *rawConn) waitClosed() {
	rc.t.Helper()
	_, err := rc.r.ReadByte()
	for err == nil {
		_, err = rc.r.ReadByte()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		rc.t.Fatal("the server did not close the connection")
	}
}

// fakePeer accepts one connection on a loopback port and hands it to serve,
// for tests that need a peer misbehaving in ways our Server never would.
// It returns the address; the test's end waits for serve to return.
func fakePeer(t *testing.T, serve func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		serve(nc)
	})
	return ln.Addr().String()
}
