package namesrv

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// registry is the route table, with the semantics of Java's
// RouteInfoManager (doc 4.5): which broker names exist, with their
// addresses by broker id and their cluster; which broker names host each
// topic and with how many queues; and when each broker address last
// registered. It does no I/O and reads no clock: the server passes the
// time in. All methods are safe for concurrent use.
//
// Invariants, kept by every method:
//   - a broker name is in brokers iff it has at least one address, and then
//     it is in exactly the cluster set named by its brokerSet.cluster;
//   - every address in a brokerSet is a key of live (the reverse does not
//     hold: a master displaced by another address at id 0 stays live until
//     it expires or its connection closes, as in Java);
//   - every broker name in a topic's queue table is in brokers, and no
//     topic has an empty queue table.
type registry struct {
	mu sync.RWMutex // guards everything below
	// topics: topic -> broker name -> that broker's queues of the topic.
	topics map[string]map[string]protocol.QueueData
	// brokers: broker name -> its cluster and addresses.
	brokers map[string]*brokerSet
	// clusters: cluster name -> its broker names.
	clusters map[string]map[string]struct{}
	// live: broker address -> its last registration.
	live map[string]*liveBroker
}

// brokerSet is one broker name: a master and its slaves.
type brokerSet struct {
	cluster string
	addrs   map[int64]string // broker id -> address; protocol.MasterID is the master
}

// liveBroker is what the registry remembers of one broker address.
type liveBroker struct {
	name, cluster string
	id            int64
	haAddr        string
	lastSeen      time.Time
	dataVersion   protocol.DataVersion
	conn          any // identity of the connection it registered on; nil: none
}

// registration is one decoded REGISTER_BROKER.
type registration struct {
	cluster, name, addr, haAddr string
	id                          int64
	// topics is the broker's topic table; nil when the request had no body
	// (Java accepts that as a heartbeat with version 0 and no table).
	topics *protocol.TopicConfigSerializeWrapper
	// conn identifies the connection the request came on (compared with
	// ==), so that its closing removes the broker; nil for none.
	conn any
}

// registerResult is what a registration changed and what to answer.
type registerResult struct {
	// first: the address was not registered before (under this name).
	first bool
	// topicsUpdated: the registration replaced the broker's queue data.
	topicsUpdated bool
	// masterAddr and masterHAAddr answer a slave: where its master is, when
	// the master is registered.
	masterAddr, masterHAAddr string
}

// removedBroker describes an address the registry dropped.
type removedBroker struct {
	addr, name, cluster string
	id                  int64
	conn                any
	// lastOfName: it was the broker name's last address, so the name left
	// its cluster and every topic's queue data.
	lastOfName bool
	// connUnused: no other live address registered on conn.
	connUnused bool
}

func newRegistry() *registry {
	return &registry{
		topics:   map[string]map[string]protocol.QueueData{},
		brokers:  map[string]*brokerSet{},
		clusters: map[string]map[string]struct{}{},
		live:     map[string]*liveBroker{},
	}
}

// register records a registration made at now. Only a master's topic
// table updates queue data, and only on the address's first registration
// or when its data version changed; the table then replaces the broker
// name's queue data, so topics it no longer lists lose that broker.
func (r *registry) register(reg registration, now time.Time) registerResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.live[reg.addr]
	if prev != nil && prev.name != reg.name {
		// The address now runs another broker name: forget the old one.
		r.removeLocked(reg.addr)
		prev = nil
	}
	set := r.brokers[reg.name]
	if set == nil {
		set = &brokerSet{cluster: reg.cluster, addrs: map[int64]string{}}
		r.brokers[reg.name] = set
	}
	if set.cluster != reg.cluster {
		r.leaveClusterLocked(set.cluster, reg.name)
		set.cluster = reg.cluster
	}
	if r.clusters[reg.cluster] == nil {
		r.clusters[reg.cluster] = map[string]struct{}{}
	}
	r.clusters[reg.cluster][reg.name] = struct{}{}
	// The same address under another id: a slave became master, or back.
	maps.DeleteFunc(set.addrs, func(id int64, a string) bool { return a == reg.addr && id != reg.id })
	set.addrs[reg.id] = reg.addr

	var version protocol.DataVersion
	if reg.topics != nil {
		version = reg.topics.DataVersion
	}
	res := registerResult{first: prev == nil}
	changed := prev == nil || prev.dataVersion != version
	r.live[reg.addr] = &liveBroker{
		name: reg.name, cluster: reg.cluster, id: reg.id, haAddr: reg.haAddr,
		lastSeen: now, dataVersion: version, conn: reg.conn,
	}
	if reg.id == protocol.MasterID && reg.topics != nil && changed {
		r.setTopicsLocked(reg.name, reg.topics.TopicConfigTable)
		res.topicsUpdated = true
	}
	if reg.id != protocol.MasterID {
		if m, ok := set.addrs[protocol.MasterID]; ok {
			if ml := r.live[m]; ml != nil {
				res.masterAddr, res.masterHAAddr = m, ml.haAddr
			}
		}
	}
	return res
}

// setTopicsLocked makes table the queue data of broker name.
func (r *registry) setTopicsLocked(name string, table map[string]protocol.TopicConfig) {
	for topic, qs := range r.topics {
		if _, ok := table[topic]; !ok {
			r.dropQueuesLocked(topic, qs, name)
		}
	}
	for topic, tc := range table {
		if topic == "" {
			continue // not routable; Java would fail on it too
		}
		qs := r.topics[topic]
		if qs == nil {
			qs = map[string]protocol.QueueData{}
			r.topics[topic] = qs
		}
		qs[name] = tc.QueueData(name)
	}
}

// dropQueuesLocked removes broker name from a topic's queue table and the
// topic when nothing is left.
func (r *registry) dropQueuesLocked(topic string, qs map[string]protocol.QueueData, name string) {
	delete(qs, name)
	if len(qs) == 0 {
		delete(r.topics, topic)
	}
}

func (r *registry) leaveClusterLocked(cluster, name string) {
	c := r.clusters[cluster]
	delete(c, name)
	if len(c) == 0 {
		delete(r.clusters, cluster)
	}
}

// removeLocked drops one broker address. Dropping a name's last address
// removes the name from its cluster and from every topic.
func (r *registry) removeLocked(addr string) (removedBroker, bool) {
	lb := r.live[addr]
	if lb == nil {
		return removedBroker{}, false
	}
	delete(r.live, addr)
	rb := removedBroker{addr: addr, name: lb.name, cluster: lb.cluster, id: lb.id, conn: lb.conn}
	set := r.brokers[lb.name]
	if set == nil {
		return rb, true
	}
	maps.DeleteFunc(set.addrs, func(_ int64, a string) bool { return a == addr })
	if len(set.addrs) > 0 {
		return rb, true
	}
	rb.lastOfName = true
	delete(r.brokers, lb.name)
	r.leaveClusterLocked(set.cluster, lb.name)
	for topic, qs := range r.topics {
		r.dropQueuesLocked(topic, qs, lb.name)
	}
	return rb, true
}

// removeWhereLocked drops every address for which drop is true, in address
// order, and says which of their connections no remaining address uses.
func (r *registry) removeWhereLocked(drop func(*liveBroker) bool) []removedBroker {
	var addrs []string
	for addr, lb := range r.live {
		if drop(lb) {
			addrs = append(addrs, addr)
		}
	}
	slices.Sort(addrs)
	out := make([]removedBroker, 0, len(addrs))
	for _, addr := range addrs {
		if rb, ok := r.removeLocked(addr); ok {
			out = append(out, rb)
		}
	}
	for i := range out {
		out[i].connUnused = out[i].conn != nil && !r.connInUseLocked(out[i].conn)
	}
	return out
}

func (r *registry) connInUseLocked(conn any) bool {
	for _, lb := range r.live {
		if lb.conn == conn {
			return true
		}
	}
	return false
}

// unregister removes a broker address (UNREGISTER_BROKER).
func (r *registry) unregister(addr string) (removedBroker, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removeLocked(addr)
}

// expire removes the addresses whose last registration is more than ttl
// before now.
func (r *registry) expire(now time.Time, ttl time.Duration) []removedBroker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removeWhereLocked(func(lb *liveBroker) bool { return now.Sub(lb.lastSeen) > ttl })
}

// removeConn removes the addresses whose latest registration came on conn
// (a broker that re-registered on a newer connection stays).
func (r *registry) removeConn(conn any) []removedBroker {
	if conn == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removeWhereLocked(func(lb *liveBroker) bool { return lb.conn == conn })
}

// queryDataVersion serves QUERY_DATA_VERSION: changed says v differs from
// the version addr last registered (or addr is unknown); an unchanged
// broker counts as alive at now. stored is the registered version, if any.
func (r *registry) queryDataVersion(addr string, v protocol.DataVersion, now time.Time) (changed bool, stored *protocol.DataVersion) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lb := r.live[addr]
	if lb == nil {
		return true, nil
	}
	if lb.dataVersion == v {
		lb.lastSeen = now
		changed = false
	} else {
		changed = true
	}
	dv := lb.dataVersion
	return changed, &dv
}

// route returns a topic's route, or false when no registered broker hosts
// it (TOPIC_NOT_EXIST). Queue and broker data come in broker-name order.
func (r *registry) route(topic string) (protocol.TopicRouteData, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	qs := r.topics[topic]
	var rd protocol.TopicRouteData
	for _, name := range slices.Sorted(maps.Keys(qs)) {
		set := r.brokers[name]
		if set == nil {
			continue // cannot happen (invariant); never route to a broker without addresses
		}
		rd.QueueDatas = append(rd.QueueDatas, qs[name])
		rd.BrokerDatas = append(rd.BrokerDatas, set.brokerData(name))
	}
	return rd, len(rd.QueueDatas) > 0
}

func (b *brokerSet) brokerData(name string) protocol.BrokerData {
	return protocol.BrokerData{Cluster: b.cluster, BrokerName: name, BrokerAddrs: maps.Clone(b.addrs)}
}

// clusterInfo returns every broker name with its addresses, by cluster.
func (r *registry) clusterInfo() protocol.ClusterInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ci := protocol.ClusterInfo{
		BrokerAddrTable:  make(map[string]protocol.BrokerData, len(r.brokers)),
		ClusterAddrTable: make(map[string][]string, len(r.clusters)),
	}
	for name, set := range r.brokers {
		ci.BrokerAddrTable[name] = set.brokerData(name)
	}
	for c, names := range r.clusters {
		ci.ClusterAddrTable[c] = slices.Sorted(maps.Keys(names))
	}
	return ci
}

// topicList returns every routable topic, sorted.
func (r *registry) topicList() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.topics))
}

// topicsOfCluster returns the topics hosted by at least one of a cluster's
// broker names, sorted.
func (r *registry) topicsOfCluster(cluster string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := r.clusters[cluster]
	out := []string{}
	for topic, qs := range r.topics {
		for name := range qs {
			if _, ok := names[name]; ok {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// deleteTopic removes a topic's queue data: all of it, or with a cluster
// only that of the cluster's broker names. It reports whether anything was
// removed. A master registering a changed table that lists the topic
// brings it back, as in Java.
func (r *registry) deleteTopic(topic, cluster string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	qs, ok := r.topics[topic]
	if !ok {
		return false
	}
	if cluster == "" {
		delete(r.topics, topic)
		return true
	}
	removed := false
	for name := range r.clusters[cluster] {
		if _, ok := qs[name]; ok {
			r.dropQueuesLocked(topic, qs, name)
			removed = true
		}
	}
	return removed
}

// setWritePerm clears (wipe) or restores (add) the write permission of
// every queue data of a broker name, and returns how many topics it
// touched: WIPE_WRITE_PERM_OF_BROKER (205) and ADD_WRITE_PERM_OF_BROKER
// (327). The change lasts until the master registers a changed table.
func (r *registry) setWritePerm(name string, writable bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, qs := range r.topics {
		qd, ok := qs[name]
		if !ok {
			continue
		}
		if writable {
			qd.Perm = protocol.PermRead | protocol.PermWrite // Java sets exactly R|W
		} else {
			qd.Perm &^= protocol.PermWrite
		}
		qs[name] = qd
		n++
	}
	return n
}

// hasBroker reports whether a broker address is registered.
func (r *registry) hasBroker(addr string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.live[addr] != nil
}
