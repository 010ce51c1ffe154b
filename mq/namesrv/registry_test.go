package namesrv

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// table builds a topic table at a data version; every topic has 4 read
// and 4 write queues and perm 6 unless written "name:queues".
func table(version int64, topics ...string) *protocol.TopicConfigSerializeWrapper {
	w := &protocol.TopicConfigSerializeWrapper{
		DataVersion:      protocol.DataVersion{Counter: version, Timestamp: 1700000000000 + version},
		TopicConfigTable: map[string]protocol.TopicConfig{},
	}
	for _, t := range topics {
		name, n := t, int32(4)
		if i := strings.IndexByte(t, ':'); i >= 0 {
			fmt.Sscan(t[i+1:], &n)
			name = t[:i]
		}
		w.TopicConfigTable[name] = protocol.TopicConfig{TopicName: name, ReadQueueNums: n, WriteQueueNums: n, Perm: 6, TopicFilterType: "SINGLE_TAG"}
	}
	return w
}

func master(cluster, name, addr string, version int64, topics ...string) registration {
	return registration{cluster: cluster, name: name, addr: addr, haAddr: haOf(addr), topics: table(version, topics...)}
}

func slave(cluster, name, addr string, id int64, version int64, topics ...string) registration {
	return registration{cluster: cluster, name: name, addr: addr, haAddr: haOf(addr), id: id, topics: table(version, topics...)}
}

func haOf(addr string) string { return strings.Replace(addr, ":10911", ":10912", 1) }

// dump renders the registry's whole state, sorted, one fact a line.
func dump(r *registry) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var b strings.Builder
	for _, c := range slices.Sorted(maps.Keys(r.clusters)) {
		fmt.Fprintf(&b, "cluster %s: %s\n", c, strings.Join(slices.Sorted(maps.Keys(r.clusters[c])), " "))
	}
	for _, name := range slices.Sorted(maps.Keys(r.brokers)) {
		set := r.brokers[name]
		fmt.Fprintf(&b, "broker %s@%s:", name, set.cluster)
		for _, id := range slices.Sorted(maps.Keys(set.addrs)) {
			fmt.Fprintf(&b, " %d=%s", id, set.addrs[id])
		}
		b.WriteString("\n")
	}
	for _, topic := range slices.Sorted(maps.Keys(r.topics)) {
		var qs []string
		for _, name := range slices.Sorted(maps.Keys(r.topics[topic])) {
			q := r.topics[topic][name]
			qs = append(qs, fmt.Sprintf("%s r%d w%d p%d", name, q.ReadQueueNums, q.WriteQueueNums, q.Perm))
		}
		fmt.Fprintf(&b, "topic %s: %s\n", topic, strings.Join(qs, ", "))
	}
	for _, addr := range slices.Sorted(maps.Keys(r.live)) {
		lb := r.live[addr]
		fmt.Fprintf(&b, "live %s: %s#%d v%d\n", addr, lb.name, lb.id, lb.dataVersion.Counter)
	}
	return b.String()
}

const (
	addrA0 = "10.0.0.1:10911"
	addrA1 = "10.0.0.2:10911"
	addrB0 = "10.0.0.3:10911"
)

func TestRegistryTransitions(t *testing.T) {
	tests := []struct {
		name string
		run  func(r *registry)
		want string
	}{
		{
			name: "master registers its topics",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1", "T2:8"), t0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911
topic T1: a r4 w4 p6
topic T2: a r8 w8 p6
live 10.0.0.1:10911: a#0 v1
`,
		},
		{
			name: "slave adds its address and its table is ignored",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(slave("C", "a", addrA1, 1, 7, "SlaveOnly"), t0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911 1=10.0.0.2:10911
topic T1: a r4 w4 p6
live 10.0.0.1:10911: a#0 v1
live 10.0.0.2:10911: a#1 v7
`,
		},
		{
			name: "unchanged data version keeps the queue data",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(master("C", "a", addrA0, 1, "T1:16", "T9"), t0.Add(30*time.Second))
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911
topic T1: a r4 w4 p6
live 10.0.0.1:10911: a#0 v1
`,
		},
		{
			name: "changed data version replaces the queue data",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1", "Shared"), t0)
				r.register(master("C", "b", addrB0, 1, "Shared"), t0)
				r.register(master("C", "a", addrA0, 2, "T1:16", "T9"), t0.Add(30*time.Second))
			},
			want: `
cluster C: a b
broker a@C: 0=10.0.0.1:10911
broker b@C: 0=10.0.0.3:10911
topic Shared: b r4 w4 p6
topic T1: a r16 w16 p6
topic T9: a r4 w4 p6
live 10.0.0.1:10911: a#0 v2
live 10.0.0.3:10911: b#0 v1
`,
		},
		{
			name: "registration without a body keeps the queue data",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(registration{cluster: "C", name: "a", addr: addrA0}, t0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911
topic T1: a r4 w4 p6
live 10.0.0.1:10911: a#0 v0
`,
		},
		{
			name: "unregistering the slave keeps the broker",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(slave("C", "a", addrA1, 1, 1), t0)
				r.unregister(addrA1)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911
topic T1: a r4 w4 p6
live 10.0.0.1:10911: a#0 v1
`,
		},
		{
			name: "unregistering the master keeps the name and topics while a slave remains",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(slave("C", "a", addrA1, 1, 1), t0)
				r.unregister(addrA0)
			},
			want: `
cluster C: a
broker a@C: 1=10.0.0.2:10911
topic T1: a r4 w4 p6
live 10.0.0.2:10911: a#1 v1
`,
		},
		{
			name: "dropping the last address removes the name from its cluster and topics",
			run: func(r *registry) {
				r.register(master("C1", "a", addrA0, 1, "Shared", "OnlyA"), t0)
				r.register(slave("C1", "a", addrA1, 1, 1), t0)
				r.register(master("C2", "b", addrB0, 1, "Shared"), t0)
				r.unregister(addrA0)
				r.unregister(addrA1)
			},
			want: `
cluster C2: b
broker b@C2: 0=10.0.0.3:10911
topic Shared: b r4 w4 p6
live 10.0.0.3:10911: b#0 v1
`,
		},
		{
			name: "unregistering an unknown address changes nothing",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.unregister("10.9.9.9:10911")
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911
topic T1: a r4 w4 p6
live 10.0.0.1:10911: a#0 v1
`,
		},
		{
			name: "slave promoted to master at the same address",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(slave("C", "a", addrA1, 1, 1), t0)
				r.unregister(addrA0)
				r.register(master("C", "a", addrA1, 2, "T1", "T2"), t0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.2:10911
topic T1: a r4 w4 p6
topic T2: a r4 w4 p6
live 10.0.0.2:10911: a#0 v2
`,
		},
		{
			name: "a new master address displaces the old one, which stays live until it goes",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(master("C", "a", addrA1, 1, "T1"), t0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.2:10911
topic T1: a r4 w4 p6
live 10.0.0.1:10911: a#0 v1
live 10.0.0.2:10911: a#0 v1
`,
		},
		{
			name: "the displaced master going away leaves the new one alone",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(master("C", "a", addrA1, 1, "T1"), t0)
				r.unregister(addrA0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.2:10911
topic T1: a r4 w4 p6
live 10.0.0.2:10911: a#0 v1
`,
		},
		{
			name: "an address re-registering under another broker name leaves the old name",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1"), t0)
				r.register(master("C", "b", addrA0, 1, "T2"), t0)
			},
			want: `
cluster C: b
broker b@C: 0=10.0.0.1:10911
topic T2: b r4 w4 p6
live 10.0.0.1:10911: b#0 v1
`,
		},
		{
			name: "a broker name moving to another cluster",
			run: func(r *registry) {
				r.register(master("C1", "a", addrA0, 1, "T1"), t0)
				r.register(master("C1", "b", addrB0, 1, "T1"), t0)
				r.register(master("C2", "a", addrA0, 1, "T1"), t0)
			},
			want: `
cluster C1: b
cluster C2: a
broker a@C2: 0=10.0.0.1:10911
broker b@C1: 0=10.0.0.3:10911
topic T1: a r4 w4 p6, b r4 w4 p6
live 10.0.0.1:10911: a#0 v1
live 10.0.0.3:10911: b#0 v1
`,
		},
		{
			name: "delete a topic everywhere",
			run: func(r *registry) {
				r.register(master("C1", "a", addrA0, 1, "T1", "T2"), t0)
				r.register(master("C2", "b", addrB0, 1, "T1"), t0)
				r.deleteTopic("T1", "")
			},
			want: `
cluster C1: a
cluster C2: b
broker a@C1: 0=10.0.0.1:10911
broker b@C2: 0=10.0.0.3:10911
topic T2: a r4 w4 p6
live 10.0.0.1:10911: a#0 v1
live 10.0.0.3:10911: b#0 v1
`,
		},
		{
			name: "delete a topic in one cluster",
			run: func(r *registry) {
				r.register(master("C1", "a", addrA0, 1, "T1", "T2"), t0)
				r.register(master("C2", "b", addrB0, 1, "T1", "T2"), t0)
				r.deleteTopic("T1", "C1")
				r.deleteTopic("T2", "NoSuchCluster")
			},
			want: `
cluster C1: a
cluster C2: b
broker a@C1: 0=10.0.0.1:10911
broker b@C2: 0=10.0.0.3:10911
topic T1: b r4 w4 p6
topic T2: a r4 w4 p6, b r4 w4 p6
live 10.0.0.1:10911: a#0 v1
live 10.0.0.3:10911: b#0 v1
`,
		},
		{
			name: "a deleted topic comes back only with a changed table",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1", "T2"), t0)
				r.deleteTopic("T1", "")
				r.deleteTopic("T2", "")
				r.register(master("C", "a", addrA0, 1, "T1", "T2"), t0)
				r.register(master("C", "a", addrA0, 2, "T2"), t0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911
topic T2: a r4 w4 p6
live 10.0.0.1:10911: a#0 v2
`,
		},
		{
			name: "wipe then add write permission",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "T1", "T2"), t0)
				r.register(master("C", "b", addrB0, 1, "T1"), t0)
				if n := r.setWritePerm("a", false); n != 2 {
					panic(fmt.Sprintf("wiped %d topics, want 2", n))
				}
				r.setWritePerm("b", false)
				r.setWritePerm("b", true)
			},
			want: `
cluster C: a b
broker a@C: 0=10.0.0.1:10911
broker b@C: 0=10.0.0.3:10911
topic T1: a r4 w4 p4, b r4 w4 p6
topic T2: a r4 w4 p4
live 10.0.0.1:10911: a#0 v1
live 10.0.0.3:10911: b#0 v1
`,
		},
		{
			name: "an empty topic name is not routable",
			run: func(r *registry) {
				r.register(master("C", "a", addrA0, 1, "", "T1"), t0)
			},
			want: `
cluster C: a
broker a@C: 0=10.0.0.1:10911
topic T1: a r4 w4 p6
live 10.0.0.1:10911: a#0 v1
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry()
			tt.run(r)
			if got, want := dump(r), strings.TrimPrefix(tt.want, "\n"); got != want {
				t.Errorf("state:\n%s\nwant:\n%s", got, want)
			}
			checkInvariants(t, r)
		})
	}
}

// checkInvariants checks what registry's doc comment promises, and that
// every route is consistent for clients.
func checkInvariants(t *testing.T, r *registry) {
	t.Helper()
	r.mu.RLock()
	for name, set := range r.brokers {
		if len(set.addrs) == 0 {
			t.Errorf("broker %s has no address", name)
		}
		if _, ok := r.clusters[set.cluster][name]; !ok {
			t.Errorf("broker %s missing from its cluster %s", name, set.cluster)
		}
		for _, addr := range set.addrs {
			if r.live[addr] == nil {
				t.Errorf("broker %s address %s not live", name, addr)
			}
		}
	}
	for c, names := range r.clusters {
		if len(names) == 0 {
			t.Errorf("cluster %s is empty", c)
		}
		for name := range names {
			if set := r.brokers[name]; set == nil || set.cluster != c {
				t.Errorf("cluster %s lists broker %s which is elsewhere", c, name)
			}
		}
	}
	topics := slices.Collect(maps.Keys(r.topics))
	for topic, qs := range r.topics {
		if len(qs) == 0 {
			t.Errorf("topic %s has no queue data", topic)
		}
		for name := range qs {
			if r.brokers[name] == nil {
				t.Errorf("topic %s has queue data of unknown broker %s", topic, name)
			}
		}
	}
	r.mu.RUnlock()
	for _, topic := range topics {
		rd, ok := r.route(topic)
		if !ok {
			t.Errorf("topic %s listed but not routable", topic)
			continue
		}
		if err := rd.Validate(); err != nil {
			t.Errorf("route of %s: %v", topic, err)
		}
	}
}

func TestRegistryRegisterResult(t *testing.T) {
	r := newRegistry()
	// A slave before its master learns nothing about it.
	if res := r.register(slave("C", "a", addrA1, 1, 1), t0); !res.first || res.masterAddr != "" || res.topicsUpdated {
		t.Fatalf("slave before master: %+v", res)
	}
	if res := r.register(master("C", "a", addrA0, 1, "T"), t0); !res.first || !res.topicsUpdated || res.masterAddr != "" {
		t.Fatalf("master first registration: %+v", res)
	}
	if res := r.register(master("C", "a", addrA0, 1, "T"), t0); res.first || res.topicsUpdated {
		t.Fatalf("master heartbeat: %+v", res)
	}
	if res := r.register(master("C", "a", addrA0, 2, "T"), t0); res.first || !res.topicsUpdated {
		t.Fatalf("master new version: %+v", res)
	}
	res := r.register(slave("C", "a", addrA1, 1, 1), t0)
	if res.first || res.masterAddr != addrA0 || res.masterHAAddr != "10.0.0.1:10912" {
		t.Fatalf("slave after master: %+v, want master %s with HA address 10.0.0.1:10912", res, addrA0)
	}
}

func TestRegistryExpire(t *testing.T) {
	const ttl = 120 * time.Second
	r := newRegistry()
	r.register(master("C", "a", addrA0, 1, "OnlyA"), t0)
	r.register(master("C", "b", addrB0, 1, "OnlyB"), t0.Add(10*time.Second))
	if gone := r.expire(t0.Add(ttl), ttl); len(gone) != 0 {
		t.Fatalf("expired at exactly the expiry: %+v", gone)
	}
	gone := r.expire(t0.Add(ttl+time.Millisecond), ttl)
	if len(gone) != 1 || gone[0].addr != addrA0 || gone[0].name != "a" || !gone[0].lastOfName {
		t.Fatalf("expired %+v, want only %s as the last address of a", gone, addrA0)
	}
	if _, ok := r.route("OnlyA"); ok {
		t.Error("topic of the expired broker still routed")
	}
	if _, ok := r.route("OnlyB"); !ok {
		t.Error("topic of the live broker lost")
	}
	// A heartbeat (same version) renews liveness.
	r.register(master("C", "b", addrB0, 1, "OnlyB"), t0.Add(100*time.Second))
	if gone := r.expire(t0.Add(200*time.Second), ttl); len(gone) != 0 {
		t.Fatalf("renewed broker expired: %+v", gone)
	}
	checkInvariants(t, r)
}

func TestRegistryRemoveConn(t *testing.T) {
	type conn struct{ id int }
	c1, c2 := &conn{1}, &conn{2}
	r := newRegistry()
	withConn := func(reg registration, c any) registration { reg.conn = c; return reg }
	r.register(withConn(master("C", "a", addrA0, 1, "T"), c1), t0)
	r.register(withConn(slave("C", "a", addrA1, 1, 1), c1), t0) // two brokers on one connection
	r.register(withConn(master("C", "b", addrB0, 1, "T"), c1), t0)
	r.register(withConn(master("C", "b", addrB0, 1, "T"), c2), t0) // b moved to a new connection

	if gone := r.removeConn(nil); gone != nil {
		t.Fatalf("nil connection removed %+v", gone)
	}
	gone := r.removeConn(c1)
	var addrs []string
	for _, g := range gone {
		addrs = append(addrs, g.addr)
		if !g.connUnused {
			t.Errorf("%s: connection still reported in use", g.addr)
		}
	}
	if got := strings.Join(addrs, ","); got != addrA0+","+addrA1 {
		t.Fatalf("removed %s, want a's master and slave", got)
	}
	if !r.hasBroker(addrB0) || r.hasBroker(addrA0) {
		t.Fatalf("after close:\n%s", dump(r))
	}
	// Expiry says whether the connection still carries another broker.
	r.register(withConn(master("C", "x", "10.0.0.8:10911", 1), c2), t0.Add(time.Minute))
	gone = r.expire(t0.Add(150*time.Second), 120*time.Second)
	if len(gone) != 1 || gone[0].addr != addrB0 || gone[0].connUnused {
		t.Fatalf("expired %+v, want b with its connection still used by x", gone)
	}
	checkInvariants(t, r)
}

func TestRegistryQueryDataVersion(t *testing.T) {
	r := newRegistry()
	if changed, stored := r.queryDataVersion(addrA0, protocol.DataVersion{Counter: 1}, t0); !changed || stored != nil {
		t.Fatalf("unknown broker: changed=%v stored=%v", changed, stored)
	}
	reg := master("C", "a", addrA0, 3, "T")
	r.register(reg, t0)
	v := reg.topics.DataVersion
	if changed, stored := r.queryDataVersion(addrA0, protocol.DataVersion{Counter: 4}, t0.Add(100*time.Second)); !changed || *stored != v {
		t.Fatalf("newer version: changed=%v stored=%v", changed, stored)
	}
	if gone := r.expire(t0.Add(121*time.Second), 120*time.Second); len(gone) != 1 {
		t.Fatal("a changed version must not renew liveness")
	}
	r.register(reg, t0)
	if changed, stored := r.queryDataVersion(addrA0, v, t0.Add(100*time.Second)); changed || *stored != v {
		t.Fatalf("same version: changed=%v stored=%v", changed, stored)
	}
	if gone := r.expire(t0.Add(121*time.Second), 120*time.Second); len(gone) != 0 {
		t.Fatal("an unchanged version must renew liveness")
	}
}

func TestRegistryRouteAndClusterViews(t *testing.T) {
	r := newRegistry()
	r.register(master("C1", "b", addrB0, 1, "T1", "T2"), t0)
	r.register(master("C1", "a", addrA0, 1, "T1"), t0)
	r.register(slave("C1", "a", addrA1, 1, 1), t0)
	r.register(master("C2", "c", "10.0.0.5:10911", 1, "T3"), t0)

	rd, ok := r.route("T1")
	if !ok {
		t.Fatal("T1 not routable")
	}
	body, err := rd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"brokerDatas":[` +
		`{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"a","cluster":"C1"},` +
		`{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"b","cluster":"C1"}],` +
		`"filterServerTable":{},"queueDatas":[` +
		`{"brokerName":"a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},` +
		`{"brokerName":"b","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if string(body) != want {
		t.Errorf("route:\n got %s\nwant %s", body, want)
	}
	if _, ok := r.route("Nope"); ok {
		t.Error("unknown topic routable")
	}

	ci := r.clusterInfo()
	body, err = ci.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want = `{"brokerAddrTable":{` +
		`"a":{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"a","cluster":"C1"},` +
		`"b":{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"b","cluster":"C1"},` +
		`"c":{"brokerAddrs":{"0":"10.0.0.5:10911"},"brokerName":"c","cluster":"C2"}},` +
		`"clusterAddrTable":{"C1":["a","b"],"C2":["c"]}}`
	if string(body) != want {
		t.Errorf("cluster info:\n got %s\nwant %s", body, want)
	}

	for _, tc := range []struct {
		cluster string
		want    []string
	}{
		{"C1", []string{"T1", "T2"}},
		{"C2", []string{"T3"}},
		{"None", []string{}},
	} {
		if got := r.topicsOfCluster(tc.cluster); !slices.Equal(got, tc.want) {
			t.Errorf("topics of %s = %q, want %q", tc.cluster, got, tc.want)
		}
	}
	if got := r.topicList(); !slices.Equal(got, []string{"T1", "T2", "T3"}) {
		t.Errorf("topic list = %q", got)
	}
	// Routes are copies: changing one does not change the registry.
	rd.BrokerDatas[0].BrokerAddrs[0] = "changed:1"
	if again, _ := r.route("T1"); again.BrokerDatas[0].BrokerAddrs[0] != addrA0 {
		t.Error("route shares its address map with the registry")
	}
}

func TestKVConfig(t *testing.T) {
	kv := newKVConfig()
	if _, ok := kv.get("ns", "k"); ok {
		t.Fatal("empty store has a value")
	}
	kv.put("ns", "k", "v1")
	kv.put("ns", "k", "v2")
	kv.put("ns", "k2", "x")
	if v, ok := kv.get("ns", "k"); !ok || v != "v2" {
		t.Fatalf("get = %q %v", v, ok)
	}
	m, ok := kv.list("ns")
	if !ok || len(m) != 2 {
		t.Fatalf("list = %v %v", m, ok)
	}
	m["k"] = "mutated"
	if v, _ := kv.get("ns", "k"); v != "v2" {
		t.Fatal("list shares its map with the store")
	}
	kv.delete("ns", "k")
	kv.delete("ns", "k2")
	kv.delete("other", "k")
	if _, ok := kv.list("ns"); ok {
		t.Fatal("emptied namespace still listed")
	}
}
