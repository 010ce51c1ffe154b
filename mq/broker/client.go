package broker

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// The client registry binds client connections to producer and consumer
// groups. Clients announce themselves by HEART_BEAT every 30 s; the Go
// client never unregisters, so a client is forgotten when its connection
// closes or after ClientExpiry without a heartbeat. A change in a consumer
// group's members or topics is pushed to the members with
// NOTIFY_CONSUMER_IDS_CHANGED so that they rebalance at once.

// clientConn is one client connection as a heartbeat describes it.
type clientConn struct {
	conn     *remoting.Conn
	clientID string
	language string
	version  int16
	lastSeen time.Time
}

// consumerGroup is the live state of one consumer group.
type consumerGroup struct {
	consumeType      string
	messageModel     string
	consumeFromWhere string
	conns            map[*remoting.Conn]*clientConn
	subs             map[string]protocol.SubscriptionData // by topic
}

type clientRegistry struct {
	log    *slog.Logger
	expiry time.Duration

	mu        sync.Mutex
	consumers map[string]*consumerGroup
	producers map[string]map[*remoting.Conn]*clientConn
}

func newClientRegistry(log *slog.Logger, expiry time.Duration) *clientRegistry {
	return &clientRegistry{log: log, expiry: expiry, consumers: map[string]*consumerGroup{}, producers: map[string]map[*remoting.Conn]*clientConn{}}
}

// heartbeat records a client's groups on conn. It returns the consumer
// groups whose members or subscribed topics changed.
func (r *clientRegistry) heartbeat(conn *remoting.Conn, language string, version int16, hb *protocol.HeartbeatData, now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	cc := func(old *clientConn) *clientConn {
		if old != nil && old.clientID == hb.ClientID {
			old.lastSeen = now
			return old
		}
		return &clientConn{conn: conn, clientID: hb.ClientID, language: language, version: version, lastSeen: now}
	}
	for _, p := range hb.ProducerDataSet {
		g := r.producers[p.GroupName]
		if g == nil {
			g = map[*remoting.Conn]*clientConn{}
			r.producers[p.GroupName] = g
		}
		g[conn] = cc(g[conn])
	}
	var changed []string
	for _, c := range hb.ConsumerDataSet {
		g := r.consumers[c.GroupName]
		if g == nil {
			g = &consumerGroup{conns: map[*remoting.Conn]*clientConn{}, subs: map[string]protocol.SubscriptionData{}}
			r.consumers[c.GroupName] = g
		}
		g.consumeType, g.messageModel, g.consumeFromWhere = c.ConsumeType, c.MessageModel, c.ConsumeFromWhere
		_, known := g.conns[conn]
		g.conns[conn] = cc(g.conns[conn])
		topicsChanged := false
		seen := map[string]bool{}
		for _, sub := range c.SubscriptionDataSet {
			seen[sub.Topic] = true
			old, ok := g.subs[sub.Topic]
			if !ok {
				topicsChanged = true
			}
			if !ok || sub.SubVersion > old.SubVersion || sub.SubString != old.SubString {
				g.subs[sub.Topic] = sub
			}
		}
		for t := range g.subs {
			if !seen[t] {
				delete(g.subs, t)
				topicsChanged = true
			}
		}
		if !known || topicsChanged {
			changed = append(changed, c.GroupName)
		}
	}
	return changed
}

// unregister removes a client's connection from one group (Java clients
// send UNREGISTER_CLIENT at shutdown) and reports whether a consumer group
// changed.
func (r *clientRegistry) unregister(conn *remoting.Conn, producerGroup, consumerGroup string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.producers[producerGroup]; g != nil {
		delete(g, conn)
		if len(g) == 0 {
			delete(r.producers, producerGroup)
		}
	}
	g := r.consumers[consumerGroup]
	if g == nil {
		return false
	}
	if _, ok := g.conns[conn]; !ok {
		return false
	}
	delete(g.conns, conn)
	if len(g.conns) == 0 {
		delete(r.consumers, consumerGroup)
	}
	return true
}

// connClosed forgets a connection and returns the consumer groups it left.
func (r *clientRegistry) connClosed(conn *remoting.Conn) []string {
	return r.remove(func(c *clientConn) bool { return c.conn == conn })
}

// expire forgets clients silent for longer than the expiry and returns the
// consumer groups that changed.
func (r *clientRegistry) expire(now time.Time) []string {
	var silent []*clientConn
	changed := r.remove(func(c *clientConn) bool {
		if now.Sub(c.lastSeen) <= r.expiry {
			return false
		}
		silent = append(silent, c)
		return true
	})
	// Closing calls back into the registry (the server's disconnect hook),
	// so it happens after remove released the lock.
	for _, c := range silent {
		r.log.Info("client expired", "clientId", c.clientID, "addr", c.conn.RemoteAddr().String(), "silentFor", now.Sub(c.lastSeen))
		c.conn.Close()
	}
	return changed
}

func (r *clientRegistry) remove(match func(*clientConn) bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, g := range r.producers {
		maps.DeleteFunc(g, func(_ *remoting.Conn, c *clientConn) bool { return match(c) })
		if len(g) == 0 {
			delete(r.producers, name)
		}
	}
	var changed []string
	for name, g := range r.consumers {
		n := len(g.conns)
		maps.DeleteFunc(g.conns, func(_ *remoting.Conn, c *clientConn) bool { return match(c) })
		if len(g.conns) == n {
			continue
		}
		if len(g.conns) == 0 {
			delete(r.consumers, name)
		} else {
			changed = append(changed, name)
		}
	}
	return changed
}

// consumerIDs returns the client IDs of a group, sorted.
func (r *clientRegistry) consumerIDs(group string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return nil
	}
	ids := make([]string, 0, len(g.conns))
	for _, c := range g.conns {
		if !slices.Contains(ids, c.clientID) {
			ids = append(ids, c.clientID)
		}
	}
	slices.Sort(ids)
	return ids
}

// subscription returns a group's subscription of a topic.
func (r *clientRegistry) subscription(group, topic string) (protocol.SubscriptionData, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return protocol.SubscriptionData{}, false
	}
	s, ok := g.subs[topic]
	return s, ok
}

// consumerConns returns a group's connections.
func (r *clientRegistry) consumerConns(group string) []*clientConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return nil
	}
	return slices.Collect(maps.Values(g.conns))
}

// producerConns returns a producer group's connections, most recently seen
// first.
func (r *clientRegistry) producerConns(group string) []*clientConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Collect(maps.Values(r.producers[group]))
	slices.SortFunc(out, func(a, b *clientConn) int { return b.lastSeen.Compare(a.lastSeen) })
	return out
}

// connByClientID finds a live connection of a client by its ID.
func (r *clientRegistry) connByClientID(id string) *clientConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.producers {
		for _, c := range g {
			if c.clientID == id {
				return c
			}
		}
	}
	for _, g := range r.consumers {
		for _, c := range g.conns {
			if c.clientID == id {
				return c
			}
		}
	}
	return nil
}

// groupInfo describes a consumer group for admin queries.
type groupInfo struct {
	ConsumeType      string
	MessageModel     string
	ConsumeFromWhere string
	Conns            []clientConn
	Subs             []protocol.SubscriptionData
}

func (r *clientRegistry) group(name string) (groupInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[name]
	if g == nil {
		return groupInfo{}, false
	}
	gi := groupInfo{ConsumeType: g.consumeType, MessageModel: g.messageModel, ConsumeFromWhere: g.consumeFromWhere}
	for _, c := range g.conns {
		gi.Conns = append(gi.Conns, *c)
	}
	for _, s := range g.subs {
		gi.Subs = append(gi.Subs, s)
	}
	return gi, true
}

// consumerGroups lists the groups with live consumers.
func (r *clientRegistry) consumerGroups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.consumers))
}

// handleHeartbeat serves HEART_BEAT (34).
func (b *Broker) handleHeartbeat(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	hb, err := protocol.UnmarshalHeartbeatData(req.Body)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, "heartbeat body: "+err.Error())
	}
	for _, cd := range hb.ConsumerDataSet {
		if err := b.groups.ensure(cd.GroupName, *b.cfg.AutoCreateSubscriptionGroup); err != nil {
			return remoting.NewResponse(req, protocol.SubscriptionGroupNotExist, err.Error())
		}
		if cd.MessageModel != "BROADCASTING" {
			if _, err := b.topics.putIfAbsent(newTopicConfig(RetryTopic(cd.GroupName), 1, protocol.PermRead|protocol.PermWrite)); err != nil {
				return remoting.NewResponse(req, protocol.SystemError, err.Error())
			}
		}
	}
	for _, group := range b.clients.heartbeat(c, req.Language, req.Version, hb, time.Now()) {
		b.notifyGroupChanged(group)
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Version = brokerVersion
	return resp
}

// brokerVersion is the version the broker announces: RocketMQ 4.9.7's
// ordinal, which clients check before using SQL92 and similar features.
const brokerVersion = 407

// notifyGroupChanged tells every member of a group to rebalance.
func (b *Broker) notifyGroupChanged(group string) {
	conns := b.clients.consumerConns(group)
	for _, cc := range conns {
		req := remoting.NewRequest(protocol.NotifyConsumerIDsChanged, map[string]string{"consumerGroup": group}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := cc.conn.InvokeOneway(ctx, req); err != nil {
			b.log.Debug("notify consumer ids changed failed", "group", group, "clientId", cc.clientID, "err", err)
		}
		cancel()
	}
}

// handleUnregisterClient serves UNREGISTER_CLIENT (35), sent by Java
// clients at shutdown.
func (b *Broker) handleUnregisterClient(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	if b.clients.unregister(c, req.Ext("producerGroup"), req.Ext("consumerGroup")) {
		b.notifyGroupChanged(req.Ext("consumerGroup"))
	}
	return remoting.NewResponse(req, protocol.Success, "")
}

// handleConsumerList serves GET_CONSUMER_LIST_BY_GROUP (38).
func (b *Broker) handleConsumerList(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	group := req.Ext("consumerGroup")
	ids := b.clients.consumerIDs(group)
	if len(ids) == 0 {
		return remoting.NewResponse(req, protocol.SystemError, "no consumer of group "+group+" is connected to this broker")
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body, _ = (&protocol.ConsumerIDList{ConsumerIDList: ids}).Marshal()
	return resp
}

// handleCheckClientConfig serves CHECK_CLIENT_CONFIG (46), which Java
// clients send for non-TAG subscriptions.
func (b *Broker) handleCheckClientConfig(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return remoting.NewResponse(req, protocol.SystemError, "SQL92 filtering is not supported by this broker; subscribe with a TAG expression")
}
