// Package broker is Surge's message broker: it serves Apache RocketMQ 4.x's
// remoting protocol on top of the store, so that the official RocketMQ
// clients and Surge's own SDK can produce and consume.
//
// Each request code has a handler in a file named after its area: send.go,
// pull.go (with longpoll.go), offset.go, client.go (heartbeats and the
// client registry), lock.go, retry.go, delay.go, transaction.go, admin.go;
// register.go keeps the broker registered with the NameServers.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// Broker serves producers and consumers. Create it with New, run it with
// Serve, stop it with Shutdown.
type Broker struct {
	cfg Config
	log *slog.Logger
	// addr is the advertised address, brokerIP1 and the listen port; Serve
	// may change the port (a listener on port 0), hence atomic.
	addr atomic.Pointer[netip.AddrPort]

	store   *store.Store
	topics  *topicTable
	offsets *offsetTable
	groups  *groupTable
	clients *clientRegistry
	locks   *lockTable
	polls   *longPolls
	nsrv    *remoting.Client // towards the NameServers
	server  *remoting.Server

	stats struct {
		putMessages atomic.Int64 // messages stored by sends
		getMessages atomic.Int64 // messages returned by pulls
	}

	registerNow chan struct{} // ask registerLoop to register at once
	delayWake   chan struct{} // a delayed message was stored
	txOnce      sync.Once
	tx          *txState // see txState()
	delay       *delayOffsets
	stop        chan struct{}
	wg          sync.WaitGroup
	stopOnce    sync.Once
	serving     chan struct{} // closed once Serve has a listener
}

// New opens the store and the broker's state under cfg.Store.Dir. The
// broker does not listen until Serve.
func New(cfg Config) (*Broker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	b := &Broker{
		cfg:         cfg,
		log:         cfg.Logger,
		registerNow: make(chan struct{}, 1),
		delayWake:   make(chan struct{}, 1),
		stop:        make(chan struct{}),
		serving:     make(chan struct{}),
		polls:       newLongPolls(),
	}
	ip, err := advertisedIP(cfg.BrokerIP)
	if err != nil {
		return nil, err
	}
	advertised := netip.AddrPortFrom(ip, uint16(cfg.ListenPort))
	b.addr.Store(&advertised)
	stateDir := filepath.Join(cfg.Store.Dir, "config")
	if b.topics, err = openTopicTable(stateDir); err != nil {
		return nil, err
	}
	b.topics.onChange = b.requestRegister
	if b.offsets, err = openOffsetTable(stateDir); err != nil {
		return nil, err
	}
	if b.groups, err = openGroupTable(stateDir, cfg.MaxReconsumeTimes); err != nil {
		return nil, err
	}
	if b.delay, err = openDelayOffsets(stateDir); err != nil {
		return nil, err
	}
	b.clients = newClientRegistry(b.log, cfg.ClientExpiry)
	b.locks = newLockTable(cfg.LockLease)

	scfg := cfg.Store
	scfg.StoreHost = advertised
	scfg.OnAppend = b.onAppend
	scfg.TagCode = b.tagCode
	if b.store, err = store.Open(scfg); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := b.ensureSystemTopics(); err != nil {
		b.store.Close()
		return nil, err
	}
	b.nsrv = remoting.NewClient(remoting.ClientConfig{Logger: b.log, DialTimeout: 3 * time.Second})
	b.server = &remoting.Server{
		Handler:      b.handler(),
		Logger:       b.log,
		OnDisconnect: b.connClosed,
	}
	return b, nil
}

// advertisedIP returns brokerIP1, or the first non-loopback IPv4 address.
func advertisedIP(configured string) (netip.Addr, error) {
	if configured != "" {
		ip, err := netip.ParseAddr(configured)
		if err != nil {
			return ip, fmt.Errorf("brokerIP1 %q: not an IP address", configured)
		}
		return ip.Unmap(), nil
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() && !ip.IsLoopback() {
					return ip.Unmap(), nil
				}
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1"), nil
}

// Addr is the address the broker advertises: brokerIP1 and the listen port.
func (b *Broker) Addr() string { return b.addr.Load().String() }

func (b *Broker) addrPort() netip.AddrPort { return *b.addr.Load() }

// Store exposes the message store (for tests and tools in this module).
func (b *Broker) Store() *store.Store { return b.store }

// handler routes every request code the broker serves.
func (b *Broker) handler() remoting.Handler {
	mux := remoting.NewMux(b.log)
	mux.HandleFunc(protocol.SendMessage, b.handleSend)
	mux.HandleFunc(protocol.SendMessageV2, b.handleSend)
	mux.HandleFunc(protocol.SendBatchMessage, b.handleSend)
	mux.HandleFunc(protocol.SendReplyMessage, b.handleSend)
	mux.HandleFunc(protocol.SendReplyMessageV2, b.handleSend)
	mux.HandleFunc(protocol.PullMessage, b.handlePull)
	mux.HandleFunc(protocol.QueryConsumerOffset, b.handleQueryOffset)
	mux.HandleFunc(protocol.UpdateConsumerOffset, b.handleUpdateOffset)
	mux.HandleFunc(protocol.GetMaxOffset, b.handleMaxOffset)
	mux.HandleFunc(protocol.GetMinOffset, b.handleMinOffset)
	mux.HandleFunc(protocol.SearchOffsetByTimestamp, b.handleSearchOffset)
	mux.HandleFunc(protocol.GetEarliestMsgStoreTime, b.handleEarliestStoreTime)
	mux.HandleFunc(protocol.HeartBeat, b.handleHeartbeat)
	mux.HandleFunc(protocol.UnregisterClient, b.handleUnregisterClient)
	mux.HandleFunc(protocol.GetConsumerListByGroup, b.handleConsumerList)
	mux.HandleFunc(protocol.LockBatchMQ, b.handleLockBatch)
	mux.HandleFunc(protocol.UnlockBatchMQ, b.handleUnlockBatch)
	mux.HandleFunc(protocol.CheckClientConfig, b.handleCheckClientConfig)
	b.routeRetry(mux)        // retry.go
	b.routeTransactions(mux) // transaction.go
	b.routeAdmin(mux)        // admin.go
	return mux
}

// Serve serves on ln until Shutdown, running the broker's background work
// (registration with the NameServers, client expiry, offset flushing).
func (b *Broker) Serve(ln net.Listener) error {
	if p := ln.Addr().(*net.TCPAddr).Port; p != int(b.addrPort().Port()) {
		// A listener on port 0 (tests) decides the port: advertise it.
		a := netip.AddrPortFrom(b.addrPort().Addr(), uint16(p))
		b.addr.Store(&a)
		b.store.SetStoreHost(a)
	}
	b.checkAdvertised()
	b.startBackground()
	close(b.serving)
	b.log.Info("broker started", "cluster", b.cfg.ClusterName, "broker", b.cfg.BrokerName,
		"listen", ln.Addr().String(), "addr", b.Addr(), "namesrv", b.cfg.NamesrvAddrs,
		"store", b.cfg.Store.Dir, "flushDiskType", b.cfg.Store.FlushType.String())
	err := b.server.Serve(ln)
	if errors.Is(err, remoting.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe listens on the configured address and serves.
func (b *Broker) ListenAndServe() error {
	ln, err := net.Listen("tcp", b.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (listenPort): %w", b.cfg.ListenAddr, err)
	}
	return b.Serve(ln)
}

// checkAdvertised warns when clients will not be able to dial the address
// the broker advertises: the most common reason a client "cannot connect".
func (b *Broker) checkAdvertised() {
	addr := b.Addr()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		b.log.Warn("advertised address is not reachable from this host; clients will fail to connect. Set brokerIP1 to an address clients can dial",
			"addr", addr, "err", err)
		return
	}
	conn.Close()
	if b.addrPort().Addr().IsLoopback() && b.cfg.BrokerIP == "" {
		b.log.Warn("advertising a loopback address: only clients on this host can connect; set brokerIP1 for others", "addr", addr)
	}
}

func (b *Broker) startBackground() {
	b.wg.Go(b.registerLoop)
	b.wg.Go(b.housekeepingLoop)
	b.wg.Go(b.deliverDelayedLoop)   // delay.go
	b.wg.Go(b.transactionCheckLoop) // transaction.go
}

// housekeepingLoop expires silent clients and stale locks and flushes
// consumer offsets.
func (b *Broker) housekeepingLoop() {
	scan := time.NewTicker(10 * time.Second)
	defer scan.Stop()
	flush := time.NewTicker(b.cfg.OffsetFlushInterval)
	defer flush.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-scan.C:
			for _, group := range b.clients.expire(time.Now()) {
				b.notifyGroupChanged(group)
			}
		case <-flush.C:
			if err := b.offsets.flush(); err != nil {
				b.log.Error("consumer offsets not saved", "err", err)
			}
		}
	}
}

// Shutdown stops the broker gracefully: stop accepting, let in-flight
// requests finish (until ctx), unregister from the NameServers, save
// offsets, close the store (flush and checkpoint). It is idempotent.
func (b *Broker) Shutdown(ctx context.Context) error {
	var errs []error
	b.stopOnce.Do(func() {
		close(b.stop) // wakes held pulls and background loops
		errs = append(errs, b.server.Shutdown(ctx))
		b.wg.Wait()
		b.unregisterAll(ctx)
		errs = append(errs, b.nsrv.Close())
		errs = append(errs, b.offsets.flush())
		errs = append(errs, b.store.Close())
		b.log.Info("broker stopped", "broker", b.cfg.BrokerName)
	})
	return errors.Join(errs...)
}

// onAppend runs after every append: it wakes the pulls held on the queue
// and, for a delayed message, the delivery loop.
func (b *Broker) onAppend(topic string, queueID int32, maxOffset int64) {
	b.polls.notify(topic, queueID, maxOffset)
	if topic == TopicSchedule {
		select {
		case b.delayWake <- struct{}{}:
		default:
		}
	}
}

// requestRegister asks registerLoop to register with the NameServers now.
func (b *Broker) requestRegister() {
	select {
	case b.registerNow <- struct{}{}:
	default:
	}
}

// connClosed forgets everything bound to a closed connection.
func (b *Broker) connClosed(c *remoting.Conn) {
	for _, group := range b.clients.connClosed(c) {
		b.notifyGroupChanged(group)
	}
}

// peerAddr is the remote address of a connection as an AddrPort (the born
// host of messages sent on it).
func peerAddr(c *remoting.Conn) netip.AddrPort {
	if c == nil {
		return netip.AddrPort{}
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
