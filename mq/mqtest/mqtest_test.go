package mqtest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/mq/namesrv"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

func route(t *testing.T, cl *remoting.Client, ns, topic string) (*remoting.Command, *protocol.TopicRouteData) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Invoke(ctx, ns, remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != protocol.Success {
		return resp, nil
	}
	rd, err := protocol.UnmarshalTopicRouteData(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, rd
}

func TestStartRoutesDefaultTopic(t *testing.T) {
	c := mqtest.Start(t)
	cl := remoting.NewClient(remoting.ClientConfig{})
	defer cl.Close()
	_, rd := route(t, cl, c.NamesrvAddr, broker.TopicAutoCreate)
	if rd == nil || rd.BrokerDatas[0].MasterAddr() != c.BrokerAddr {
		t.Fatalf("TBW102 route: %+v", rd)
	}
	c.RestartBroker()
	if _, rd := route(t, cl, c.NamesrvAddr, broker.TopicAutoCreate); rd == nil {
		t.Fatal("no route after a broker restart")
	}
}

// TestTwoBrokersTwoNameServers: a topic spread over two brokers of one
// cluster is routed by both NameServers; a broker that stops leaves the
// routes.
func TestTwoBrokersTwoNameServers(t *testing.T) {
	var nsAddrs []string
	for range 2 {
		ns, _ := namesrv.New(namesrv.Config{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go ns.Serve(ln)
		t.Cleanup(func() { ns.Shutdown(context.Background()) })
		nsAddrs = append(nsAddrs, ln.Addr().String())
	}
	var brokers []*broker.Broker
	for _, name := range []string{"broker-a", "broker-b"} {
		b, err := broker.New(broker.Config{
			BrokerName: name, BrokerIP: "127.0.0.1", NamesrvAddrs: nsAddrs, RegisterInterval: 200 * time.Millisecond,
			Store: store.Config{Dir: t.TempDir(), SegmentSize: 8 << 20, IndexSlots: 64, IndexEntries: 256},
		})
		if err != nil {
			t.Fatal(err)
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		go b.Serve(ln)
		brokers = append(brokers, b)
		t.Cleanup(func() { b.Shutdown(context.Background()) })
	}
	cl := remoting.NewClient(remoting.ClientConfig{})
	defer cl.Close()
	// Create the topic on both brokers.
	for _, b := range brokers {
		h := protocol.CreateTopicRequestHeader{Topic: "Spread", DefaultTopic: "TBW102", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: "SINGLE_TAG"}
		resp, err := cl.Invoke(context.Background(), b.Addr(), remoting.NewRequest(protocol.UpdateAndCreateTopic, h.Ext(), nil))
		if err != nil || resp.Code != protocol.Success {
			t.Fatalf("create topic on %s: %v %v", b.Addr(), resp, err)
		}
	}
	waitRoute := func(ns string, brokersWanted int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, rd := route(t, cl, ns, "Spread")
			n := 0
			if rd != nil {
				n = len(rd.QueueDatas)
			}
			if n == brokersWanted {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("NameServer %s routes Spread to %d brokers, want %d", ns, n, brokersWanted)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, ns := range nsAddrs {
		waitRoute(ns, 2)
	}
	brokers[1].Shutdown(context.Background())
	for _, ns := range nsAddrs {
		waitRoute(ns, 1)
	}
}
