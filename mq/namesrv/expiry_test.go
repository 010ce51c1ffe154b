package namesrv

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// These tests run the real expiry scanner on synctest's fake clock, with
// RocketMQ's default 10 s scan and 120 s expiry. Sockets stay out of the
// bubble: requests go straight to the handlers (no connection).

// startScanner starts the scanner as Serve does, without a listener.
func startScanner(s *Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serving = true
	s.startScannerLocked()
}

// newScanningServer returns a Server whose scanner runs, shut down when
// the test ends (inside the bubble, so that a failing test does not leave
// the scanner behind). synctest.Test fails if the scanner outlives
// Shutdown.
func newScanningServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	startScanner(s)
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// syncBuffer is a log sink safe for the scanner and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestExpiryScannerDropsSilentBrokers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		s := newScanningServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))})
		ctx := context.Background()
		register := func(name, addr, topic string) {
			t.Helper()
			req := brokerReq{cluster: "C", name: name, addr: addr, version: 1, topics: []string{topic}}.command(t)
			if resp := s.handleRegister(ctx, nil, req); resp.Code != protocol.Success {
				t.Fatalf("register %s: %d %q", name, resp.Code, resp.Remark)
			}
		}
		routeCode := func(topic string) int16 {
			return s.handleRoute(ctx, nil, remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)).Code
		}
		// sleepTo advances the fake clock to at seconds after the start and
		// lets the scanner finish whatever that woke.
		start := time.Now()
		sleepTo := func(at time.Duration) {
			time.Sleep(time.Until(start.Add(at)))
			synctest.Wait()
		}

		register("a", addrA0, "TA")
		register("b", addrB0, "TB")
		sleepTo(115 * time.Second)
		register("b", addrB0, "TB") // b's heartbeat; a stays silent

		// The scan at 120 s finds a silent for exactly 120 s: not yet over.
		sleepTo(125 * time.Second)
		if !s.HasBroker(addrA0) || routeCode("TA") != protocol.Success {
			t.Fatal("a expired at exactly the expiry")
		}
		// The scan at 130 s drops a, and only a.
		sleepTo(131 * time.Second)
		if s.HasBroker(addrA0) || routeCode("TA") != protocol.TopicNotExist {
			t.Fatal("a not expired by the scan at 130 s")
		}
		if !s.HasBroker(addrB0) || routeCode("TB") != protocol.Success {
			t.Fatal("b expired although it registered at 115 s")
		}
		// b's last registration was at 115 s: still there after the scan at
		// 230 s (115 s of silence), gone after the one at 240 s (125 s).
		sleepTo(236 * time.Second)
		if !s.HasBroker(addrB0) {
			t.Fatal("b expired early")
		}
		sleepTo(241 * time.Second)
		if s.HasBroker(addrB0) || routeCode("TB") != protocol.TopicNotExist {
			t.Fatal("b not expired by the scan at 240 s")
		}

		for _, want := range []string{
			`level=WARN msg="broker expired: no registration within the expiry" broker=a addr=10.0.0.1:10911 cluster=C brokerId=0 expiry=2m0s lastOfName=true`,
			`level=WARN msg="broker expired: no registration within the expiry" broker=b addr=10.0.0.3:10911 cluster=C brokerId=0 expiry=2m0s lastOfName=true`,
		} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("logs lack %s\nlogs:\n%s", want, logs.String())
			}
		}
	})
}

func TestExpiryQueryDataVersionKeepsABrokerAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScanningServer(t, Config{})
		ctx := context.Background()
		reg := brokerReq{cluster: "C", name: "a", addr: addrA0, version: 7, topics: []string{"T"}}
		s.handleRegister(ctx, nil, reg.command(t))
		id := protocol.BrokerIdentityHeader{BrokerName: "a", BrokerAddr: addrA0, ClusterName: "C"}.Ext()
		version := []byte(`{"counter":7,"timestamp":1700000000007}`)
		// Java brokers with forceRegister=false ask every 30 s instead of
		// registering; an unchanged answer counts as a heartbeat.
		for range 10 {
			time.Sleep(30 * time.Second)
			resp := s.handleQueryDataVersion(ctx, nil, remoting.NewRequest(protocol.QueryDataVersion, id, version))
			if resp.Code != protocol.Success || resp.Ext("changed") != "false" {
				t.Fatalf("query: %d %v", resp.Code, resp.ExtFields)
			}
		}
		synctest.Wait()
		if !s.HasBroker(addrA0) {
			t.Fatal("a broker that queried its data version every 30 s expired")
		}
		time.Sleep(131 * time.Second)
		synctest.Wait()
		if s.HasBroker(addrA0) {
			t.Fatal("broker not expired after it stopped asking")
		}
	})
}

func TestExpiryShutdownBeforeServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		startScanner(s) // refused: the scanner must not start after Shutdown
		// synctest.Test fails if a scanner goroutine is left running.
	})
}
