// Package mqtest starts a real NameServer and Broker inside a Go test, on
// free loopback ports with a t.TempDir() store, and stops them when the test
// ends. Every test that needs a broker uses it:
//
//	c := mqtest.Start(t)
//	producer := newProducer(c.NamesrvAddr)
package mqtest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/namesrv"
	"github.com/surge-mq/surge/mq/store"
)

// Cluster is one NameServer and one Broker.
type Cluster struct {
	// NamesrvAddr is the NameServer's address, for clients.
	NamesrvAddr string
	// BrokerAddr is the address the broker advertises.
	BrokerAddr string
	// Broker and Namesrv are the running servers.
	Broker  *broker.Broker
	Namesrv *namesrv.Server

	t        testing.TB
	cfg      broker.Config
	brokerLn string // the broker's listen address, kept across restarts
	done     chan error
	nsDone   chan error
}

// Option adjusts the broker's configuration.
type Option func(*broker.Config)

// WithBrokerConfig lets a test change any broker setting.
func WithBrokerConfig(f func(*broker.Config)) Option { return Option(f) }

// Start starts a NameServer and a Broker registered with it, and waits
// until the broker's topics are routable.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mqtest: listen: %v", err)
	}
	ns, err := namesrv.New(namesrv.Config{})
	if err != nil {
		t.Fatalf("mqtest: namesrv: %v", err)
	}
	c := &Cluster{t: t, NamesrvAddr: ln.Addr().String(), Namesrv: ns, nsDone: make(chan error, 1)}
	go func() { c.nsDone <- ns.Serve(ln) }()
	t.Cleanup(c.stopNamesrv)

	c.cfg = broker.Config{
		BrokerIP:         "127.0.0.1",
		NamesrvAddrs:     []string{c.NamesrvAddr},
		RegisterInterval: time.Second,
		Store: store.Config{
			Dir:          t.TempDir(),
			SegmentSize:  64 << 20,
			IndexSlots:   1 << 14,
			IndexEntries: 1 << 16,
		},
	}
	for _, o := range opts {
		o(&c.cfg)
	}
	c.StartBroker()
	t.Cleanup(c.StopBroker)
	return c
}

// StartBroker starts the broker (again, after StopBroker) on the same
// store and, after the first start, the same port.
func (c *Cluster) StartBroker() {
	c.t.Helper()
	addr := c.brokerLn
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger briefly after a restart
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("mqtest: broker listen: %v", err)
	}
	c.brokerLn = ln.Addr().String()
	c.cfg.ListenPort = ln.Addr().(*net.TCPAddr).Port
	b, err := broker.New(c.cfg)
	if err != nil {
		ln.Close()
		c.t.Fatalf("mqtest: broker: %v", err)
	}
	c.Broker, c.BrokerAddr, c.done = b, b.Addr(), make(chan error, 1)
	go func() { c.done <- b.Serve(ln) }()
	c.waitRegistered()
}

// waitRegistered waits until the NameServer routes the broker's TBW102.
func (c *Cluster) waitRegistered() {
	deadline := time.Now().Add(10 * time.Second)
	for !c.Namesrv.HasBroker(c.BrokerAddr) {
		if time.Now().After(deadline) {
			c.t.Fatalf("mqtest: broker %s did not register with the NameServer within 10s", c.BrokerAddr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StopBroker shuts the broker down gracefully. It is safe to call twice.
func (c *Cluster) StopBroker() {
	c.t.Helper()
	if c.Broker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := errors.Join(c.Broker.Shutdown(ctx), <-c.done)
	c.Broker = nil
	if err != nil {
		c.t.Errorf("mqtest: broker shutdown: %v", err)
	}
}

// RestartBroker stops the broker and starts it again on the same store.
func (c *Cluster) RestartBroker() {
	c.t.Helper()
	c.StopBroker()
	c.StartBroker()
}

func (c *Cluster) stopNamesrv() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Namesrv.Shutdown(ctx); err != nil {
		c.t.Errorf("mqtest: namesrv shutdown: %v", err)
	}
	<-c.nsDone
}
