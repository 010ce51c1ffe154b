package namesrv

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// The example body of doc 4.3 (238 bytes), byte for byte.
const docRouteExample = `{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`

func TestServerRouteMatchesDocExample(t *testing.T) {
	_, addr := startServer(t, Config{})
	cl := newClient(t)
	reg := brokerReq{cluster: "DefaultCluster", name: "broker-a", addr: "192.168.0.10:10911", version: 1, topics: []string{"TopicTest"}}
	if resp := invoke(t, cl, addr, reg.command(t)); resp.Code != protocol.Success {
		t.Fatalf("register: %d %q", resp.Code, resp.Remark)
	}
	resp := invoke(t, cl, addr, routeReq("TopicTest"))
	if resp.Code != protocol.Success {
		t.Fatalf("route: %d %q", resp.Code, resp.Remark)
	}
	if len(docRouteExample) != 238 {
		t.Fatalf("doc example is %d bytes, want 238", len(docRouteExample))
	}
	if string(resp.Body) != docRouteExample {
		t.Fatalf("route body:\n got %s\nwant %s", resp.Body, docRouteExample)
	}
}

func TestServerTopicNotExist(t *testing.T) {
	s, addr := startServer(t, Config{})
	cl := newClient(t)
	check := func(topic string) {
		t.Helper()
		resp := invoke(t, cl, addr, routeReq(topic))
		want := "No topic route info in name server for the topic: " + topic
		if resp.Code != protocol.TopicNotExist || resp.Remark != want || len(resp.Body) != 0 {
			t.Fatalf("route of %s: code %d remark %q body %q; want 17 %q, no body", topic, resp.Code, resp.Remark, resp.Body, want)
		}
	}
	check("NeverSeen")
	reg := brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"Gone"}}
	invoke(t, cl, addr, reg.command(t))
	if resp := invoke(t, cl, addr, routeReq("Gone")); resp.Code != protocol.Success {
		t.Fatalf("route while registered: %d", resp.Code)
	}
	unreg := protocol.BrokerIdentityHeader{BrokerName: "a", BrokerAddr: addrA0, ClusterName: "C"}
	if resp := invoke(t, cl, addr, remoting.NewRequest(protocol.UnregisterBroker, unreg.Ext(), nil)); resp.Code != protocol.Success {
		t.Fatalf("unregister: %d %q", resp.Code, resp.Remark)
	}
	if s.HasBroker(addrA0) {
		t.Fatal("unregistered broker still known")
	}
	check("Gone")
}

func TestServerRegisterBodyForms(t *testing.T) {
	tests := []struct {
		name string
		req  brokerReq
		// wantQueues is the route's queue count; 0 means no route.
		wantQueues int32
	}{
		{"json with crc", brokerReq{form: formJSON, topics: []string{"T:3"}}, 3},
		{"json without crc", brokerReq{form: formJSON, noCRC: true, topics: []string{"T:5"}}, 5},
		{"compressed with crc", brokerReq{form: formCompressed, topics: []string{"T:6"}}, 6},
		{"compressed without crc", brokerReq{form: formCompressed, noCRC: true, topics: []string{"T:7"}}, 7},
		{"java compressed", brokerReq{form: formJavaCompressed, topics: []string{"T:8"}}, 8},
		{"empty body", brokerReq{form: formEmpty}, 0},
	}
	_, addr := startServer(t, Config{})
	cl := newClient(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := "T" + itoa(int32(i))
			req := tt.req
			req.cluster, req.name, req.addr, req.version = "C", "broker-"+itoa(int32(i)), "10.1.0."+itoa(int32(i+1))+":10911", 1
			for j, tp := range req.topics {
				req.topics[j] = strings.Replace(tp, "T", topic, 1)
			}
			resp := invoke(t, cl, addr, req.command(t))
			if resp.Code != protocol.Success {
				t.Fatalf("register: %d %q", resp.Code, resp.Remark)
			}
			resp = invoke(t, cl, addr, routeReq(topic))
			if tt.wantQueues == 0 {
				if resp.Code != protocol.TopicNotExist {
					t.Fatalf("route: %d, want 17", resp.Code)
				}
				return
			}
			rd, err := protocol.UnmarshalTopicRouteData(resp.Body)
			if resp.Code != protocol.Success || err != nil {
				t.Fatalf("route: %d %q %v", resp.Code, resp.Remark, err)
			}
			if len(rd.QueueDatas) != 1 || rd.QueueDatas[0].ReadQueueNums != tt.wantQueues || rd.QueueDatas[0].WriteQueueNums != tt.wantQueues || rd.QueueDatas[0].Perm != 6 {
				t.Fatalf("queue data %+v, want %d queues perm 6", rd.QueueDatas, tt.wantQueues)
			}
			if got := rd.BrokerDatas[0].BrokerAddrs[0]; got != req.addr {
				t.Fatalf("master address %q, want %q", got, req.addr)
			}
		})
	}
}

func TestServerRefusesBadRequests(t *testing.T) {
	good := brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"T"}}
	goodExt := func(edit func(ext map[string]string)) map[string]string {
		ext := good.command(t).ExtFields
		edit(ext)
		return ext
	}
	goodBody := good.body(t)
	javaBad := func(lines ...string) []byte {
		return javaCompressedBody(`{"counter":1,"timestamp":1}`, lines, `[]`)
	}
	compressedExt := func(body []byte) map[string]string {
		return goodExt(func(ext map[string]string) {
			ext["compressed"] = "true"
			ext["bodyCrc32"] = itoa(int32(protocol.BodyChecksum(body)))
		})
	}
	truncated := javaBad("T 4 4 6 SINGLE_TAG")
	truncated = truncated[:len(truncated)/2]
	tests := []struct {
		name     string
		req      *remoting.Command
		wantCode int16
		remark   string // substring of the remark
	}{
		{"register without brokerName",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { delete(e, "brokerName") }), goodBody),
			protocol.SystemError, `"brokerName" missing`},
		{"register with a bad brokerId",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["brokerId"] = "master" }), goodBody),
			protocol.SystemError, `"brokerId"`},
		{"register with a negative brokerId",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["brokerId"] = "-1" }), goodBody),
			protocol.SystemError, "negative brokerId"},
		{"register with an empty brokerName",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["brokerName"] = "" }), goodBody),
			protocol.SystemError, "empty brokerName"},
		{"register with an address clients cannot split",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["brokerAddr"] = "10.0.0.1:10911,x" }), goodBody),
			protocol.SystemError, "brokerAddr unusable"},
		{"register with an address without port",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["brokerAddr"] = "10.0.0.1" }), goodBody),
			protocol.SystemError, "brokerAddr unusable"},
		{"register with a wrong crc",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["bodyCrc32"] = "12345" }), goodBody),
			protocol.SystemError, "crc32 not match"},
		{"register with a malformed bodyCrc32",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["bodyCrc32"] = "crc" }), goodBody),
			protocol.SystemError, `"bodyCrc32"`},
		{"register with a body that is not JSON",
			remoting.NewRequest(protocol.RegisterBroker, goodExt(func(e map[string]string) { e["bodyCrc32"] = "0" }), []byte("{not json")),
			protocol.SystemError, "malformed body"},
		{"register with a JSON body marked compressed",
			remoting.NewRequest(protocol.RegisterBroker, compressedExt(goodBody), goodBody),
			protocol.SystemError, "malformed body"},
		{"register with a truncated compressed body",
			remoting.NewRequest(protocol.RegisterBroker, compressedExt(truncated), truncated),
			protocol.SystemError, "malformed body"},
		{"register with a compressed topic line of 4 fields",
			remoting.NewRequest(protocol.RegisterBroker, compressedExt(javaBad("T 4 4 6")), javaBad("T 4 4 6")),
			protocol.SystemError, "want 5 fields"},
		{"register with a compressed topic line with a bad number",
			remoting.NewRequest(protocol.RegisterBroker, compressedExt(javaBad("T 4 x 6 SINGLE_TAG")), javaBad("T 4 x 6 SINGLE_TAG")),
			protocol.SystemError, "malformed body"},
		{"route without topic",
			remoting.NewRequest(protocol.GetRouteInfoByTopic, nil, nil),
			protocol.SystemError, `"topic" missing`},
		{"unregister without brokerAddr",
			remoting.NewRequest(protocol.UnregisterBroker, map[string]string{"brokerName": "a", "clusterName": "C", "brokerId": "0"}, nil),
			protocol.SystemError, `"brokerAddr" missing`},
		{"query data version with a bad body",
			remoting.NewRequest(protocol.QueryDataVersion, protocol.BrokerIdentityHeader{BrokerName: "a", BrokerAddr: addrA0, ClusterName: "C"}.Ext(), []byte("[")),
			protocol.SystemError, "malformed body"},
		{"topics by cluster without cluster",
			remoting.NewRequest(protocol.GetTopicsByCluster, nil, nil),
			protocol.SystemError, "cluster"},
		{"delete topic without topic",
			remoting.NewRequest(protocol.DeleteTopicInNamesrv, map[string]string{"clusterName": "C"}, nil),
			protocol.SystemError, `"topic" missing`},
		{"put KV without value",
			remoting.NewRequest(protocol.PutKVConfig, map[string]string{"namespace": "ns", "key": "k"}, nil),
			protocol.SystemError, "value"},
		{"wipe write permission without brokerName",
			remoting.NewRequest(protocol.WipeWritePermOfBroker, nil, nil),
			protocol.SystemError, "brokerName"},
		{"unknown request code",
			remoting.NewRequest(9999, nil, nil),
			protocol.RequestCodeNotSupported, "9999"},
	}
	s, addr := startServer(t, Config{})
	cl := newClient(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, cl, addr, tt.req)
			if resp.Code != tt.wantCode || !strings.Contains(resp.Remark, tt.remark) {
				t.Fatalf("got %d %q, want %d with remark containing %q", resp.Code, resp.Remark, tt.wantCode, tt.remark)
			}
		})
	}
	// Nothing was registered, and the server still serves.
	if s.HasBroker(addrA0) || s.HasBroker("10.0.0.1:10911,x") {
		t.Fatal("a refused registration was recorded")
	}
	if resp := invoke(t, cl, addr, good.command(t)); resp.Code != protocol.Success {
		t.Fatalf("good registration after bad ones: %d %q", resp.Code, resp.Remark)
	}
}

func TestServerConnectionCloseRemovesBroker(t *testing.T) {
	s, addr := startServer(t, Config{})
	broker := remoting.NewClient(remoting.ClientConfig{})
	defer broker.Close()
	reg := brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"T"}}
	invoke(t, broker, addr, reg.command(t))
	if !s.HasBroker(addrA0) {
		t.Fatal("not registered")
	}
	broker.Close()
	waitFor(t, "the broker's removal after its connection closed", func() bool { return !s.HasBroker(addrA0) })
	if resp := invoke(t, newClient(t), addr, routeReq("T")); resp.Code != protocol.TopicNotExist {
		t.Fatalf("route after close: %d, want 17", resp.Code)
	}
}

func TestServerReregistrationOnNewConnectionSurvivesOldClose(t *testing.T) {
	s, addr := startServer(t, Config{})
	old := remoting.NewClient(remoting.ClientConfig{})
	defer old.Close()
	reg := brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"T"}}
	invoke(t, old, addr, reg.command(t))
	// A marker broker only the old connection carries: its removal shows
	// the server has handled the old connection's close.
	marker := brokerReq{cluster: "C", name: "marker", addr: "10.0.0.99:10911", version: 1}
	invoke(t, old, addr, marker.command(t))
	invoke(t, newClient(t), addr, reg.command(t)) // the broker reconnected
	old.Close()
	waitFor(t, "the marker's removal", func() bool { return !s.HasBroker(marker.addr) })
	if !s.HasBroker(addrA0) {
		t.Fatal("closing a connection dropped a broker that had re-registered on another")
	}
}

func TestServerTwoNameServersEachKeepTheirOwnRegistry(t *testing.T) {
	ns1, addr1 := startServer(t, Config{})
	ns2, addr2 := startServer(t, Config{})
	broker := newClient(t)
	reg := brokerReq{cluster: "DefaultCluster", name: "broker-a", addr: "192.168.0.10:10911", version: 1, topics: []string{"TopicTest"}}
	for _, addr := range []string{addr1, addr2} {
		if resp := invoke(t, broker, addr, reg.command(t)); resp.Code != protocol.Success {
			t.Fatalf("register with %s: %d %q", addr, resp.Code, resp.Remark)
		}
	}
	client := newClient(t)
	for _, addr := range []string{addr1, addr2} {
		if resp := invoke(t, client, addr, routeReq("TopicTest")); string(resp.Body) != docRouteExample {
			t.Fatalf("route from %s: %d %s", addr, resp.Code, resp.Body)
		}
	}
	// Unregistering from one NameServer leaves the other untouched.
	unreg := protocol.BrokerIdentityHeader{BrokerName: "broker-a", BrokerAddr: reg.addr, ClusterName: "DefaultCluster"}
	invoke(t, broker, addr1, remoting.NewRequest(protocol.UnregisterBroker, unreg.Ext(), nil))
	if ns1.HasBroker(reg.addr) || !ns2.HasBroker(reg.addr) {
		t.Fatalf("after unregistering from the first: first has it %v, second %v", ns1.HasBroker(reg.addr), ns2.HasBroker(reg.addr))
	}
	if resp := invoke(t, client, addr1, routeReq("TopicTest")); resp.Code != protocol.TopicNotExist {
		t.Fatalf("first NameServer still routes: %d", resp.Code)
	}
	if resp := invoke(t, client, addr2, routeReq("TopicTest")); string(resp.Body) != docRouteExample {
		t.Fatalf("second NameServer lost the route: %d %s", resp.Code, resp.Body)
	}
}

func TestServerSlaveLearnsItsMaster(t *testing.T) {
	_, addr := startServer(t, Config{})
	cl := newClient(t)
	m := brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"T"}}
	sl := brokerReq{cluster: "C", name: "a", addr: addrA1, id: 1, version: 1, topics: []string{"Ignored"}}
	if resp := invoke(t, cl, addr, m.command(t)); len(resp.ExtFields) != 0 || len(resp.Body) != 0 {
		t.Fatalf("master's answer: ext %v body %q, want neither", resp.ExtFields, resp.Body)
	}
	resp := invoke(t, cl, addr, sl.command(t))
	h, err := protocol.DecodeRegisterBrokerResponseHeader(resp.ExtFields)
	if err != nil || h.MasterAddr != addrA0 || h.HAServerAddr != "10.0.0.1:10912" {
		t.Fatalf("slave's answer: %+v %v, want master %s HA 10.0.0.1:10912", h, err, addrA0)
	}
	resp = invoke(t, cl, addr, routeReq("T"))
	rd, err := protocol.UnmarshalTopicRouteData(resp.Body)
	if err != nil || len(rd.BrokerDatas) != 1 || rd.BrokerDatas[0].BrokerAddrs[1] != addrA1 {
		t.Fatalf("route: %s %v", resp.Body, err)
	}
	if resp := invoke(t, cl, addr, routeReq("Ignored")); resp.Code != protocol.TopicNotExist {
		t.Fatal("a slave's topic table was used")
	}
}

func TestServerQueryDataVersion(t *testing.T) {
	_, addr := startServer(t, Config{})
	cl := newClient(t)
	id := protocol.BrokerIdentityHeader{BrokerName: "a", BrokerAddr: addrA0, ClusterName: "C"}.Ext()
	query := func(counter int64) (changed bool, body string) {
		t.Helper()
		resp := invoke(t, cl, addr, remoting.NewRequest(protocol.QueryDataVersion, id, []byte(`{"counter":`+itoa(int32(counter))+`,"timestamp":1700000000003}`)))
		h, err := protocol.DecodeQueryDataVersionResponseHeader(resp.ExtFields)
		if resp.Code != protocol.Success || err != nil {
			t.Fatalf("query: %d %q %v", resp.Code, resp.Remark, err)
		}
		return h.Changed, string(resp.Body)
	}
	if changed, body := query(3); !changed || body != "" {
		t.Fatalf("unknown broker: changed %v body %q", changed, body)
	}
	invoke(t, cl, addr, brokerReq{cluster: "C", name: "a", addr: addrA0, version: 3, topics: []string{"T"}}.command(t))
	if changed, body := query(3); changed || body != `{"counter":3,"timestamp":1700000000003}` {
		t.Fatalf("same version: changed %v body %s", changed, body)
	}
	if changed, _ := query(4); !changed {
		t.Fatal("newer version reported unchanged")
	}
}

func TestServerTopicListsAndClusterInfo(t *testing.T) {
	_, addr := startServer(t, Config{})
	cl := newClient(t)
	invoke(t, cl, addr, brokerReq{cluster: "C1", name: "a", addr: addrA0, version: 1, topics: []string{"T1", "T2"}}.command(t))
	invoke(t, cl, addr, brokerReq{cluster: "C2", name: "b", addr: addrB0, version: 1, topics: []string{"T2", "T3"}}.command(t))
	tests := []struct {
		name string
		req  *remoting.Command
		want string
	}{
		{"all topics", remoting.NewRequest(protocol.GetAllTopicListFromNameServer, nil, nil), `{"topicList":["T1","T2","T3"]}`},
		{"topics of C1", remoting.NewRequest(protocol.GetTopicsByCluster, map[string]string{"cluster": "C1"}, nil), `{"topicList":["T1","T2"]}`},
		{"topics of an unknown cluster", remoting.NewRequest(protocol.GetTopicsByCluster, map[string]string{"cluster": "X"}, nil), `{"topicList":[]}`},
		{"cluster info", remoting.NewRequest(protocol.GetBrokerClusterInfo, nil, nil),
			`{"brokerAddrTable":{"a":{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"a","cluster":"C1"},` +
				`"b":{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"b","cluster":"C2"}},` +
				`"clusterAddrTable":{"C1":["a"],"C2":["b"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, cl, addr, tt.req)
			if resp.Code != protocol.Success || string(resp.Body) != tt.want {
				t.Fatalf("got %d %s\nwant %s", resp.Code, resp.Body, tt.want)
			}
		})
	}
}

func TestServerDeleteTopic(t *testing.T) {
	_, addr := startServer(t, Config{})
	cl := newClient(t)
	invoke(t, cl, addr, brokerReq{cluster: "C1", name: "a", addr: addrA0, version: 1, topics: []string{"T1", "T2"}}.command(t))
	invoke(t, cl, addr, brokerReq{cluster: "C2", name: "b", addr: addrB0, version: 1, topics: []string{"T1"}}.command(t))
	del := func(ext map[string]string) {
		t.Helper()
		if resp := invoke(t, cl, addr, remoting.NewRequest(protocol.DeleteTopicInNamesrv, ext, nil)); resp.Code != protocol.Success {
			t.Fatalf("delete %v: %d %q", ext, resp.Code, resp.Remark)
		}
	}
	del(protocol.DeleteTopicRequestHeader{Topic: "T1", ClusterName: "C1"}.Ext())
	rd, err := protocol.UnmarshalTopicRouteData(invoke(t, cl, addr, routeReq("T1")).Body)
	if err != nil || len(rd.QueueDatas) != 1 || rd.QueueDatas[0].BrokerName != "b" {
		t.Fatalf("T1 after deleting it in C1: %+v %v", rd, err)
	}
	del(protocol.DeleteTopicRequestHeader{Topic: "T1"}.Ext())
	del(protocol.DeleteTopicRequestHeader{Topic: "NeverExisted"}.Ext())
	if resp := invoke(t, cl, addr, routeReq("T1")); resp.Code != protocol.TopicNotExist {
		t.Fatalf("T1 after deleting it everywhere: %d", resp.Code)
	}
	if resp := invoke(t, cl, addr, remoting.NewRequest(protocol.GetAllTopicListFromNameServer, nil, nil)); string(resp.Body) != `{"topicList":["T2"]}` {
		t.Fatalf("topics: %s", resp.Body)
	}
}

func TestServerWritePermission(t *testing.T) {
	_, addr := startServer(t, Config{})
	cl := newClient(t)
	invoke(t, cl, addr, brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"T1", "T2"}}.command(t))
	perm := func() int32 {
		rd, err := protocol.UnmarshalTopicRouteData(invoke(t, cl, addr, routeReq("T1")).Body)
		if err != nil {
			t.Fatal(err)
		}
		return rd.QueueDatas[0].Perm
	}
	resp := invoke(t, cl, addr, remoting.NewRequest(protocol.WipeWritePermOfBroker, map[string]string{"brokerName": "a"}, nil))
	if resp.Code != protocol.Success || resp.Ext("wipeTopicCount") != "2" || perm() != protocol.PermRead {
		t.Fatalf("wipe: %d %v, perm %d", resp.Code, resp.ExtFields, perm())
	}
	resp = invoke(t, cl, addr, remoting.NewRequest(codeAddWritePermOfBroker, map[string]string{"brokerName": "a"}, nil))
	if resp.Code != protocol.Success || resp.Ext("addTopicCount") != "2" || perm() != protocol.PermRead|protocol.PermWrite {
		t.Fatalf("add: %d %v, perm %d", resp.Code, resp.ExtFields, perm())
	}
}

func TestServerKVConfig(t *testing.T) {
	for _, orderEnabled := range []bool{false, true} {
		t.Run("orderMessageEnable="+map[bool]string{false: "false", true: "true"}[orderEnabled], func(t *testing.T) {
			_, addr := startServer(t, Config{OrderMessageEnable: orderEnabled})
			cl := newClient(t)
			kv := func(code int16, ext map[string]string) *remoting.Command {
				t.Helper()
				return invoke(t, cl, addr, remoting.NewRequest(code, ext, nil))
			}
			if resp := kv(protocol.GetKVConfig, map[string]string{"namespace": "ns", "key": "k"}); resp.Code != protocol.QueryNotFound || resp.Remark != "No config item, Namespace: ns Key: k" {
				t.Fatalf("missing KV: %d %q", resp.Code, resp.Remark)
			}
			kv(protocol.PutKVConfig, map[string]string{"namespace": "ns", "key": "k", "value": "v"})
			if resp := kv(protocol.GetKVConfig, map[string]string{"namespace": "ns", "key": "k"}); resp.Code != protocol.Success || resp.Ext("value") != "v" {
				t.Fatalf("get: %d %v", resp.Code, resp.ExtFields)
			}
			if resp := kv(codeGetKVListByNamespace, map[string]string{"namespace": "ns"}); string(resp.Body) != `{"table":{"k":"v"}}` {
				t.Fatalf("list: %d %s", resp.Code, resp.Body)
			}
			kv(protocol.DeleteKVConfig, map[string]string{"namespace": "ns", "key": "k"})
			if resp := kv(protocol.GetKVConfig, map[string]string{"namespace": "ns", "key": "k"}); resp.Code != protocol.QueryNotFound {
				t.Fatalf("deleted KV: %d", resp.Code)
			}
			if resp := kv(codeGetKVListByNamespace, map[string]string{"namespace": "ns"}); resp.Code != protocol.QueryNotFound || resp.Remark != "No config item, Namespace: ns" {
				t.Fatalf("empty namespace: %d %q", resp.Code, resp.Remark)
			}

			// ORDER_TOPIC_CONFIG goes back to registering brokers, and into
			// routes when enabled.
			kv(protocol.PutKVConfig, map[string]string{"namespace": nsOrderTopicConfig, "key": "T", "value": "a:4"})
			resp := invoke(t, cl, addr, brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"T"}}.command(t))
			if string(resp.Body) != `{"table":{"T":"a:4"}}` {
				t.Fatalf("register answer body: %s", resp.Body)
			}
			rd, err := protocol.UnmarshalTopicRouteData(invoke(t, cl, addr, routeReq("T")).Body)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if orderEnabled {
				want = "a:4"
			}
			if rd.OrderTopicConf != want {
				t.Fatalf("orderTopicConf %q, want %q", rd.OrderTopicConf, want)
			}
		})
	}
}

func TestServerExpiryClosesTheBrokersConnection(t *testing.T) {
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s, addr := startServer(t, Config{ScanInterval: 5 * time.Millisecond, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	broker := newClient(t)
	invoke(t, broker, addr, brokerReq{cluster: "C", name: "a", addr: addrA0, version: 1, topics: []string{"T"}}.command(t))
	conn, err := broker.Conn(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	now.Add(int64(121 * time.Second))
	select {
	case <-conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the expired broker's connection was not closed")
	}
	if s.HasBroker(addrA0) {
		t.Fatal("expired broker still registered")
	}
}

func TestServerLifecycle(t *testing.T) {
	t.Run("ListenAndServe stops when its context ends", func(t *testing.T) {
		s, err := New(Config{ListenAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.ListenAndServe(ctx) }()
		waitFor(t, "the listener", func() bool { return s.Addr() != nil })
		addr := s.Addr().String()
		if resp := invoke(t, newClient(t), addr, routeReq("T")); resp.Code != protocol.TopicNotExist {
			t.Fatalf("route: %d", resp.Code)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("ListenAndServe: %v", err)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatal("still accepting after shutdown")
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
	})
	t.Run("ListenAndServe reports a busy port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		s, _ := New(Config{ListenAddr: ln.Addr().String()})
		defer s.Shutdown(context.Background())
		if err := s.ListenAndServe(context.Background()); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
			t.Fatalf("ListenAndServe on a busy port: %v", err)
		}
	})
	t.Run("Serve twice and after Shutdown", func(t *testing.T) {
		s, _ := startServer(t, Config{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if err := s.Serve(ln); !errors.Is(err, ErrServing) {
			t.Fatalf("second Serve: %v, want ErrServing", err)
		}
		s2, _ := New(Config{})
		s2.Shutdown(context.Background())
		if err := s2.Serve(ln); err != nil {
			t.Fatalf("Serve after Shutdown: %v", err)
		}
		if _, err := ln.Accept(); err == nil {
			t.Fatal("Serve after Shutdown left the listener open")
		}
	})
	t.Run("New refuses an unusable config", func(t *testing.T) {
		_, err := New(Config{ListenAddr: "no-port", BrokerExpiry: -time.Second, ScanInterval: -1})
		for _, want := range []string{"ListenAddr", "BrokerExpiry", "ScanInterval"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("New: %v, want a complaint about %s", err, want)
			}
		}
	})
}

func TestServerConcurrentRegistrationsAndRoutes(t *testing.T) {
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s, addr := startServer(t, Config{ScanInterval: time.Millisecond, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	const brokers, rounds = 8, 25
	errs := make(chan error, brokers*2)
	for i := range brokers {
		reqs := make([]*remoting.Command, rounds) // a new version each round
		for v := range reqs {
			reqs[v] = brokerReq{cluster: "C", name: "b" + itoa(int32(i)), addr: "10.2.0." + itoa(int32(i+1)) + ":10911",
				version: int64(v + 1), topics: []string{"Shared", "Own" + itoa(int32(i))}}.command(t)
		}
		cl := newClient(t) // kept open: closing it would unregister the broker
		go func() {        // one broker on its own connection
			for _, req := range reqs {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := cl.Invoke(ctx, addr, req)
				cancel()
				if err == nil && resp.Code != protocol.Success {
					err = errors.New(resp.Remark)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
		go func() { // a client asking for routes meanwhile
			cl := remoting.NewClient(remoting.ClientConfig{})
			defer cl.Close()
			for range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := cl.Invoke(ctx, addr, routeReq("Shared"))
				cancel()
				if err == nil && resp.Code == protocol.Success {
					_, err = protocol.UnmarshalTopicRouteData(resp.Body)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range brokers * 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	resp := invoke(t, newClient(t), addr, routeReq("Shared"))
	rd, err := protocol.UnmarshalTopicRouteData(resp.Body)
	if err != nil {
		t.Fatalf("route of Shared: %d %q %v", resp.Code, resp.Remark, err)
	}
	if len(rd.BrokerDatas) != brokers || len(rd.QueueDatas) != brokers {
		t.Fatalf("Shared routed to %d brokers, want %d", len(rd.BrokerDatas), brokers)
	}
	if err := rd.Validate(); err != nil {
		t.Fatal(err)
	}
	// Everyone falls silent: the scanner, racing nothing now, drops all.
	now.Add(int64(121 * time.Second))
	waitFor(t, "every broker to expire", func() bool {
		for i := range brokers {
			if s.HasBroker("10.2.0." + itoa(int32(i+1)) + ":10911") {
				return false
			}
		}
		return true
	})
}
