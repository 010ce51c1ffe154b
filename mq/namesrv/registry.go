package namesrv

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// registry is the route table, RocketMQ's RouteInfoManager in miniature:
// which brokers exist (by name, with their addresses per broker id), which
// cluster each belongs to, and which brokers host each topic. It does no
// I/O; the server feeds it registrations and asks it for routes.
type registry struct {
	mu sync.RWMutex
	// topics: topic -> broker name -> queue data.
	topics map[string]map[string]protocol.QueueData
	// brokers: broker name -> its addresses and cluster.
	brokers map[string]*protocol.BrokerData
	// clusters: cluster -> broker names.
	clusters map[string]map[string]bool
	// live: broker address -> liveness.
	live map[string]*liveBroker
}

type liveBroker struct {
	cluster     string
	name        string
	id          int64
	lastSeen    time.Time
	dataVersion protocol.DataVersion
	haAddr      string
	conn        any // the connection it registered on
}

func newRegistry() *registry {
	return &registry{
		topics:   map[string]map[string]protocol.QueueData{},
		brokers:  map[string]*protocol.BrokerData{},
		clusters: map[string]map[string]bool{},
		live:     map[string]*liveBroker{},
	}
}

// registration is one REGISTER_BROKER.
type registration struct {
	cluster, name, addr, haAddr string
	id                          int64
	topics                      protocol.TopicConfigSerializeWrapper
	conn                        any
}

// register records a broker and, for a master whose data version changed,
// its topics. It returns the master's address (for slaves).
func (r *registry) register(reg registration, now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clusters[reg.cluster] == nil {
		r.clusters[reg.cluster] = map[string]bool{}
	}
	r.clusters[reg.cluster][reg.name] = true
	bd := r.brokers[reg.name]
	if bd == nil {
		bd = &protocol.BrokerData{Cluster: reg.cluster, BrokerName: reg.name, BrokerAddrs: map[int64]string{}}
		r.brokers[reg.name] = bd
	}
	// The same address under another id (slave became master): drop it.
	for id, a := range bd.BrokerAddrs {
		if a == reg.addr && id != reg.id {
			delete(bd.BrokerAddrs, id)
		}
	}
	bd.BrokerAddrs[reg.id] = reg.addr
	prev := r.live[reg.addr]
	first := prev == nil
	changed := first || prev.dataVersion != reg.topics.DataVersion
	r.live[reg.addr] = &liveBroker{cluster: reg.cluster, name: reg.name, id: reg.id, lastSeen: now, dataVersion: reg.topics.DataVersion, haAddr: reg.haAddr, conn: reg.conn}
	if reg.id == protocol.MasterID && changed {
		r.setTopicsLocked(reg.name, reg.topics.TopicConfigTable)
	}
	if reg.id != protocol.MasterID {
		return bd.BrokerAddrs[protocol.MasterID]
	}
	return ""
}

// setTopicsLocked replaces a broker's topics with the given table.
func (r *registry) setTopicsLocked(broker string, table map[string]protocol.TopicConfig) {
	for topic, qs := range r.topics {
		if _, ok := table[topic]; !ok {
			delete(qs, broker)
			if len(qs) == 0 {
				delete(r.topics, topic)
			}
		}
	}
	for topic, tc := range table {
		qs := r.topics[topic]
		if qs == nil {
			qs = map[string]protocol.QueueData{}
			r.topics[topic] = qs
		}
		qs[broker] = tc.QueueData(broker)
	}
}

// touch refreshes a broker's liveness; it reports whether the broker is
// known and its data version unchanged (QUERY_DATA_VERSION).
func (r *registry) touch(addr string, v protocol.DataVersion, now time.Time) (known, same bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lb := r.live[addr]
	if lb == nil {
		return false, false
	}
	if lb.dataVersion == v {
		lb.lastSeen = now
		return true, true
	}
	return true, false
}

// unregister removes a broker address and everything only it held.
func (r *registry) unregister(addr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removeLocked(addr)
}

func (r *registry) removeLocked(addr string) bool {
	lb := r.live[addr]
	if lb == nil {
		return false
	}
	delete(r.live, addr)
	bd := r.brokers[lb.name]
	if bd != nil {
		maps.DeleteFunc(bd.BrokerAddrs, func(_ int64, a string) bool { return a == addr })
		if len(bd.BrokerAddrs) > 0 {
			return true
		}
	}
	delete(r.brokers, lb.name)
	if c := r.clusters[lb.cluster]; c != nil {
		delete(c, lb.name)
		if len(c) == 0 {
			delete(r.clusters, lb.cluster)
		}
	}
	for topic, qs := range r.topics {
		delete(qs, lb.name)
		if len(qs) == 0 {
			delete(r.topics, topic)
		}
	}
	return true
}

// expire removes brokers not seen for longer than ttl and returns their
// addresses.
func (r *registry) expire(now time.Time, ttl time.Duration) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gone []string
	for addr, lb := range r.live {
		if now.Sub(lb.lastSeen) > ttl {
			gone = append(gone, addr)
		}
	}
	for _, addr := range gone {
		r.removeLocked(addr)
	}
	return gone
}

// connClosed removes the brokers registered on a connection.
func (r *registry) connClosed(conn any) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gone []string
	for addr, lb := range r.live {
		if lb.conn == conn {
			gone = append(gone, addr)
		}
	}
	for _, addr := range gone {
		r.removeLocked(addr)
	}
	return gone
}

// route returns a topic's route, or false if no live broker hosts it.
func (r *registry) route(topic string) (protocol.TopicRouteData, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	qs := r.topics[topic]
	var rd protocol.TopicRouteData
	for name, qd := range qs {
		bd := r.brokers[name]
		if bd == nil || len(bd.BrokerAddrs) == 0 {
			continue
		}
		rd.QueueDatas = append(rd.QueueDatas, qd)
		rd.BrokerDatas = append(rd.BrokerDatas, protocol.BrokerData{Cluster: bd.Cluster, BrokerName: bd.BrokerName, BrokerAddrs: maps.Clone(bd.BrokerAddrs)})
	}
	return rd, len(rd.QueueDatas) > 0
}

func (r *registry) clusterInfo() protocol.ClusterInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ci := protocol.ClusterInfo{BrokerAddrTable: map[string]protocol.BrokerData{}, ClusterAddrTable: map[string][]string{}}
	for name, bd := range r.brokers {
		ci.BrokerAddrTable[name] = protocol.BrokerData{Cluster: bd.Cluster, BrokerName: name, BrokerAddrs: maps.Clone(bd.BrokerAddrs)}
	}
	for c, names := range r.clusters {
		ci.ClusterAddrTable[c] = slices.Sorted(maps.Keys(names))
	}
	return ci
}

func (r *registry) topicList() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.topics))
}

// topicsOfCluster lists the topics hosted by a cluster's brokers.
func (r *registry) topicsOfCluster(cluster string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for topic, qs := range r.topics {
		for name := range qs {
			if r.clusters[cluster][name] {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// deleteTopic removes a topic, or only its queues on one cluster's brokers.
func (r *registry) deleteTopic(topic, cluster string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cluster == "" {
		delete(r.topics, topic)
		return
	}
	qs := r.topics[topic]
	for name := range qs {
		if r.clusters[cluster][name] {
			delete(qs, name)
		}
	}
	if len(qs) == 0 {
		delete(r.topics, topic)
	}
}

// hasBroker reports whether an address is registered.
func (r *registry) hasBroker(addr string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.live[addr] != nil
}
