package namesrv

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

func topics(v int64, names ...string) protocol.TopicConfigSerializeWrapper {
	w := protocol.TopicConfigSerializeWrapper{DataVersion: protocol.DataVersion{Counter: v}, TopicConfigTable: map[string]protocol.TopicConfig{}}
	for _, n := range names {
		w.TopicConfigTable[n] = protocol.TopicConfig{TopicName: n, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}
	}
	return w
}

func TestRegistry(t *testing.T) {
	r := newRegistry()
	now := time.Unix(1000, 0)
	r.register(registration{cluster: "C", name: "a", addr: "10.0.0.1:10911", topics: topics(1, "T1", "T2")}, now)
	r.register(registration{cluster: "C", name: "b", addr: "10.0.0.2:10911", topics: topics(1, "T1")}, now)
	master := r.register(registration{cluster: "C", name: "a", addr: "10.0.0.3:10911", id: 1, topics: topics(9, "ignored")}, now)
	if master != "10.0.0.1:10911" {
		t.Fatalf("slave got master %q", master)
	}
	rd, ok := r.route("T1")
	if !ok || len(rd.QueueDatas) != 2 || len(rd.BrokerDatas) != 2 {
		t.Fatalf("T1 route: %+v", rd)
	}
	if _, ok := r.route("ignored"); ok {
		t.Fatal("a slave's topics were registered")
	}
	// Same data version: the topic table is not re-read.
	r.register(registration{cluster: "C", name: "b", addr: "10.0.0.2:10911", topics: topics(1, "T9")}, now)
	if _, ok := r.route("T9"); ok {
		t.Fatal("unchanged data version replaced the topics")
	}
	r.register(registration{cluster: "C", name: "b", addr: "10.0.0.2:10911", topics: topics(2, "T9")}, now)
	if rd, _ := r.route("T1"); len(rd.QueueDatas) != 1 {
		t.Fatalf("b's T1 not dropped after its table changed: %+v", rd)
	}
	ci := r.clusterInfo()
	if got := strings.Join(ci.ClusterAddrTable["C"], ","); got != "a,b" || len(ci.BrokerAddrTable["a"].BrokerAddrs) != 2 {
		t.Fatalf("cluster info: %+v", ci)
	}
	// Expiry: b registers later than a.
	r.register(registration{cluster: "C", name: "b", addr: "10.0.0.2:10911", topics: topics(2, "T9")}, now.Add(100*time.Second))
	gone := r.expire(now.Add(130*time.Second), 120*time.Second)
	if len(gone) != 2 {
		t.Fatalf("expired %v, want a's master and slave", gone)
	}
	if _, ok := r.route("T1"); ok {
		t.Fatal("topic of an expired broker still routed")
	}
	if _, ok := r.route("T9"); !ok {
		t.Fatal("live broker's topic lost")
	}
	r.deleteTopic("T9", "")
	if got := r.topicList(); len(got) != 0 {
		t.Fatalf("topics after delete: %v", got)
	}
}

// startNamesrv runs a NameServer on loopback with a controllable clock.
func startNamesrv(t *testing.T, now func() time.Time) (*Server, string) {
	t.Helper()
	s, err := New(Config{Now: now, ScanInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Shutdown(context.Background())
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s, ln.Addr().String()
}

func call(t *testing.T, cl *remoting.Client, addr string, code int16, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Invoke(ctx, addr, remoting.NewRequest(code, ext, body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func registerReq(t *testing.T, brokerAddr string, compressed bool, names ...string) (map[string]string, []byte) {
	t.Helper()
	b := &protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: topics(1, names...)}
	var body []byte
	var err error
	if compressed {
		body, err = b.MarshalCompressed()
	} else {
		body, err = b.Marshal()
	}
	if err != nil {
		t.Fatal(err)
	}
	h := protocol.RegisterBrokerRequestHeader{BrokerName: "broker-a", BrokerAddr: brokerAddr, ClusterName: "DefaultCluster", BrokerID: 0, Compressed: compressed, BodyCRC32: int32(protocol.BodyChecksum(body))}
	return h.Ext(), body
}

func TestServerRouteLifecycle(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	s, addr := startNamesrv(t, func() time.Time { return time.Unix(0, clock.Load()) })
	cl := remoting.NewClient(remoting.ClientConfig{})
	defer cl.Close()
	resp := call(t, cl, addr, protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)
	if resp.Code != protocol.TopicNotExist || resp.Remark != "No topic route info in name server for the topic: TopicTest" {
		t.Fatalf("unknown topic: %d %q", resp.Code, resp.Remark)
	}
	for _, compressed := range []bool{false, true} {
		ext, body := registerReq(t, "192.168.0.10:10911", compressed, "TopicTest")
		if resp := call(t, cl, addr, protocol.RegisterBroker, ext, body); resp.Code != protocol.Success {
			t.Fatalf("register (compressed=%v): %d %q", compressed, resp.Code, resp.Remark)
		}
	}
	resp = call(t, cl, addr, protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)
	want := `{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	if resp.Code != protocol.Success || string(resp.Body) != want {
		t.Fatalf("route body:\n got %s\nwant %s", resp.Body, want)
	}
	if resp := call(t, cl, addr, protocol.GetAllTopicListFromNameServer, nil, nil); string(resp.Body) != `{"topicList":["TopicTest"]}` {
		t.Fatalf("topic list: %s", resp.Body)
	}
	if resp := call(t, cl, addr, protocol.GetBrokerClusterInfo, nil, nil); !strings.Contains(string(resp.Body), `"clusterAddrTable":{"DefaultCluster":["broker-a"]}`) {
		t.Fatalf("cluster info: %s", resp.Body)
	}
	// A bad body is an error response, not a crash.
	ext, _ := registerReq(t, "192.168.0.11:10911", false)
	ext["bodyCrc32"] = "0"
	if resp := call(t, cl, addr, protocol.RegisterBroker, ext, []byte("{not json")); resp.Code != protocol.SystemError {
		t.Fatalf("bad register body: %d", resp.Code)
	}
	// Silent for longer than the expiry: gone.
	clock.Add(int64(121 * time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for s.HasBroker("192.168.0.10:10911") {
		if time.Now().After(deadline) {
			t.Fatal("silent broker not expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp := call(t, cl, addr, protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil); resp.Code != protocol.TopicNotExist {
		t.Fatalf("route after expiry: %d", resp.Code)
	}
}

func TestServerConnectionCloseRemovesBroker(t *testing.T) {
	s, addr := startNamesrv(t, nil)
	cl := remoting.NewClient(remoting.ClientConfig{})
	ext, body := registerReq(t, "10.9.9.9:10911", false, "T")
	call(t, cl, addr, protocol.RegisterBroker, ext, body)
	if !s.HasBroker("10.9.9.9:10911") {
		t.Fatal("not registered")
	}
	cl.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.HasBroker("10.9.9.9:10911") {
		if time.Now().After(deadline) {
			t.Fatal("broker kept after its connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerDeleteTopicAndKV(t *testing.T) {
	_, addr := startNamesrv(t, nil)
	cl := remoting.NewClient(remoting.ClientConfig{})
	defer cl.Close()
	ext, body := registerReq(t, "10.9.9.9:10911", false, "T", "U")
	call(t, cl, addr, protocol.RegisterBroker, ext, body)
	call(t, cl, addr, protocol.DeleteTopicInNamesrv, map[string]string{"topic": "T"}, nil)
	if resp := call(t, cl, addr, protocol.GetAllTopicListFromNameServer, nil, nil); string(resp.Body) != `{"topicList":["U"]}` {
		t.Fatalf("after delete: %s", resp.Body)
	}
	call(t, cl, addr, protocol.PutKVConfig, map[string]string{"namespace": "ns", "key": "k", "value": "v"}, nil)
	if resp := call(t, cl, addr, protocol.GetKVConfig, map[string]string{"namespace": "ns", "key": "k"}, nil); resp.Ext("value") != "v" {
		t.Fatalf("kv: %+v", resp)
	}
	call(t, cl, addr, protocol.DeleteKVConfig, map[string]string{"namespace": "ns", "key": "k"}, nil)
	if resp := call(t, cl, addr, protocol.GetKVConfig, map[string]string{"namespace": "ns", "key": "k"}, nil); resp.Code != protocol.QueryNotFound {
		t.Fatalf("deleted kv: %d", resp.Code)
	}
}
