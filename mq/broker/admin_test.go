package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

func TestAdminTopicLifecycle(t *testing.T) {
	tb := startBroker(t, nil)
	h := protocol.CreateTopicRequestHeader{Topic: "Admin", DefaultTopic: "x", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6, TopicFilterType: FilterSingleTag}
	if r := tb.call(t, protocol.UpdateAndCreateTopic, h.Ext(), nil); r.Code != protocol.Success {
		t.Fatalf("create: %d %q", r.Code, r.Remark)
	}
	r := tb.call(t, protocol.GetAllTopicConfig, nil, nil)
	if !strings.Contains(string(r.Body), `"Admin":{`) || !strings.Contains(string(r.Body), `"readQueueNums":2`) {
		t.Fatalf("topic config: %s", r.Body)
	}
	for _, bad := range []protocol.CreateTopicRequestHeader{
		{Topic: "bad name", DefaultTopic: "x", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6},
		{Topic: TopicSchedule, DefaultTopic: "x", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6},
		{Topic: "Zero", DefaultTopic: "x", ReadQueueNums: 0, WriteQueueNums: 1, Perm: 6},
	} {
		if r := tb.call(t, protocol.UpdateAndCreateTopic, bad.Ext(), nil); r.Code != protocol.SystemError {
			t.Errorf("create %q: %d", bad.Topic, r.Code)
		}
	}
	tb.send(t, "Admin", 0, "x", nil)
	tb.call(t, protocol.UpdateConsumerOffset, protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "g", Topic: "Admin", QueueID: 0, CommitOffset: 1}.Ext(), nil)
	if r := tb.call(t, protocol.DeleteTopicInBroker, map[string]string{"topic": "Admin"}, nil); r.Code != protocol.Success {
		t.Fatalf("delete: %d %q", r.Code, r.Remark)
	}
	if _, ok := tb.topics.get("Admin"); ok || tb.Store().MaxOffset("Admin", 0) != 0 {
		t.Fatal("topic or its queue survived deletion")
	}
	if _, ok := tb.offsets.query("g", "Admin", 0); ok {
		t.Fatal("offsets of a deleted topic kept")
	}
	if r := tb.call(t, protocol.DeleteTopicInBroker, map[string]string{"topic": TopicSchedule}, nil); r.Code != protocol.SystemError {
		t.Fatalf("deleting a system topic: %d", r.Code)
	}
}

func TestAdminQueries(t *testing.T) {
	tb := startBroker(t, nil)
	resp := tb.send(t, "Q", 1, "find me", map[string]string{"KEYS": "order-42", "UNIQ_KEY": "UQ1"})
	_, phy, _ := protocol.ParseOffsetMessageID(resp.Ext("msgId"))
	r := tb.call(t, protocol.ViewMessageByID, protocol.ViewMessageRequestHeader{Offset: phy}.Ext(), nil)
	if m, err := protocol.DecodeMessage(r.Body, true); err != nil || string(m.Body) != "find me" {
		t.Fatalf("view by id: %d %v", r.Code, err)
	}
	if r := tb.call(t, protocol.ViewMessageByID, protocol.ViewMessageRequestHeader{Offset: phy + 1}.Ext(), nil); r.Code != protocol.SystemError {
		t.Fatalf("view at a bad offset: %d", r.Code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		q := protocol.QueryMessageRequestHeader{Topic: "Q", Key: "order-42", MaxNum: 10, EndTimestamp: time.Now().Add(time.Minute).UnixMilli()}
		r := tb.call(t, protocol.QueryMessage, q.Ext(), nil)
		if r.Code == protocol.Success {
			if msgs, err := protocol.DecodeMessages(r.Body); err != nil || len(msgs) != 1 || r.Ext("indexLastUpdatePhyoffset") == "" {
				t.Fatalf("query by key: %v %v", msgs, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query by key: %d %q", r.Code, r.Remark)
		}
		time.Sleep(20 * time.Millisecond)
	}
	q := protocol.QueryMessageRequestHeader{Topic: "Q", Key: "order-42", MaxNum: 10, BeginTimestamp: 1, EndTimestamp: 2}
	if r := tb.call(t, protocol.QueryMessage, q.Ext(), nil); r.Code != protocol.QueryNotFound {
		t.Fatalf("query outside the time range: %d", r.Code)
	}
	// Consume stats: lag and the owner of the offsets.
	tb.send(t, "Q", 1, "second", nil)
	tb.call(t, protocol.UpdateConsumerOffset, protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "g", Topic: "Q", QueueID: 1, CommitOffset: 1}.Ext(), nil)
	r = tb.call(t, protocol.GetConsumeStats, protocol.GetConsumeStatsRequestHeader{ConsumerGroup: "g", Topic: "Q"}.Ext(), nil)
	cs, err := protocol.UnmarshalConsumeStats(r.Body)
	if err != nil {
		t.Fatalf("consume stats: %v %s", err, r.Body)
	}
	ow := cs.OffsetTable[protocol.MessageQueue{Topic: "Q", BrokerName: "broker-a", QueueID: 1}]
	if ow.BrokerOffset != 2 || ow.ConsumerOffset != 1 || ow.LastTimestamp == 0 {
		t.Fatalf("queue 1 stats: %+v", ow)
	}
	r = tb.call(t, protocol.GetTopicStatsInfo, map[string]string{"topic": "Q"}, nil)
	if ts, err := protocol.UnmarshalTopicStatsTable(r.Body); err != nil || ts.OffsetTable[protocol.MessageQueue{Topic: "Q", BrokerName: "broker-a", QueueID: 1}].MaxOffset != 2 {
		t.Fatalf("topic stats: %v %s", err, r.Body)
	}
	r = tb.call(t, protocol.GetBrokerRuntimeInfo, nil, nil)
	if kv, err := protocol.UnmarshalKVTable(r.Body); err != nil || kv.Table["msgPutTotalTodayNow"] != "2" || kv.Table["brokerName"] != "broker-a" {
		t.Fatalf("runtime info: %v %s", err, r.Body)
	}
}

func TestAdminConnectionsAndResetOffset(t *testing.T) {
	tb := startBroker(t, nil)
	for range 3 {
		tb.send(t, "Reset", 0, "m", nil)
	}
	pushed := make(chan *remoting.Command, 1)
	consumer := remoting.NewClient(remoting.ClientConfig{Handler: remoting.HandlerFunc(func(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
		if req.Code == protocol.ResetConsumerClientOffset {
			pushed <- req
		}
		return nil
	})})
	defer consumer.Close()
	hb := protocol.HeartbeatData{ClientID: "c9", ConsumerDataSet: []protocol.ConsumerData{{GroupName: "rg", ConsumeType: "CONSUME_PASSIVELY", MessageModel: "CLUSTERING", SubscriptionDataSet: []protocol.SubscriptionData{{Topic: "Reset", SubString: "*"}}}}}
	body, _ := hb.Marshal()
	if _, err := consumer.Invoke(t.Context(), tb.addr, remoting.NewRequest(protocol.HeartBeat, nil, body)); err != nil {
		t.Fatal(err)
	}
	r := tb.call(t, protocol.GetConsumerConnectionList, map[string]string{"consumerGroup": "rg"}, nil)
	cc, err := protocol.UnmarshalConsumerConnection(r.Body)
	if err != nil || len(cc.ConnectionSet) != 1 || cc.ConnectionSet[0].ClientID != "c9" || cc.MessageModel != "CLUSTERING" {
		t.Fatalf("connections: %v %s", err, r.Body)
	}
	if r := tb.call(t, protocol.GetConsumerConnectionList, map[string]string{"consumerGroup": "nobody"}, nil); r.Code != consumerNotOnline {
		t.Fatalf("unknown group: %d", r.Code)
	}
	tb.call(t, protocol.UpdateConsumerOffset, protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "rg", Topic: "Reset", QueueID: 0, CommitOffset: 3}.Ext(), nil)
	reset := protocol.ResetOffsetRequestHeader{Topic: "Reset", Group: "rg", Timestamp: 0, IsForce: true}
	if r := tb.call(t, protocol.InvokeBrokerToResetOffset, reset.Ext(), nil); r.Code != protocol.Success {
		t.Fatalf("reset: %d %q", r.Code, r.Remark)
	}
	if off, _ := tb.offsets.query("rg", "Reset", 0); off != 0 {
		t.Fatalf("offset after reset to the beginning = %d", off)
	}
	select {
	case req := <-pushed:
		b, err := protocol.UnmarshalResetOffsetBody(req.Body)
		if err != nil || b.OffsetTable[protocol.MessageQueue{Topic: "Reset", BrokerName: "broker-a", QueueID: 0}] != 0 {
			t.Fatalf("pushed reset body: %v %s", err, req.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the live consumer was not told to reset")
	}
}

func TestLockBatch(t *testing.T) {
	tb := startBroker(t, nil)
	mq := []protocol.MessageQueue{{Topic: "T", BrokerName: "broker-a", QueueID: 0}, {Topic: "T", BrokerName: "broker-a", QueueID: 1}}
	lock := func(client string, mqs []protocol.MessageQueue) []protocol.MessageQueue {
		body, _ := (&protocol.LockBatchRequestBody{ConsumerGroup: "g", ClientID: client, MQSet: mqs}).Marshal()
		r := tb.call(t, protocol.LockBatchMQ, nil, body)
		res, err := protocol.UnmarshalLockBatchResponseBody(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.LockOKMQSet
	}
	if got := lock("a", mq[:1]); len(got) != 1 {
		t.Fatalf("a locks q0: %v", got)
	}
	if got := lock("b", mq); len(got) != 1 || got[0].QueueID != 1 {
		t.Fatalf("b gets only the free q1: %v", got)
	}
	body, _ := (&protocol.UnlockBatchRequestBody{ConsumerGroup: "g", ClientID: "a", MQSet: mq[:1]}).Marshal()
	tb.call(t, protocol.UnlockBatchMQ, nil, body)
	if got := lock("b", mq); len(got) != 2 {
		t.Fatalf("after a unlocked, b holds both: %v", got)
	}
	// Leases expire.
	if got := tb.locks.lock("g", "a", mq, time.Now().Add(61*time.Second)); len(got) != 2 {
		t.Fatalf("expired leases not taken over: %v", got)
	}
}

func TestClientExpiryAndNotify(t *testing.T) {
	tb := startBroker(t, nil)
	notified := make(chan string, 4)
	member := remoting.NewClient(remoting.ClientConfig{Handler: remoting.HandlerFunc(func(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
		if req.Code == protocol.NotifyConsumerIDsChanged {
			notified <- req.Ext("consumerGroup")
		}
		return nil
	})})
	defer member.Close()
	hb := func(cl *remoting.Client, id string) {
		body, _ := (&protocol.HeartbeatData{ClientID: id, ConsumerDataSet: []protocol.ConsumerData{{GroupName: "ng", MessageModel: "CLUSTERING", SubscriptionDataSet: []protocol.SubscriptionData{{Topic: "T", SubString: "*"}}}}}).Marshal()
		if _, err := cl.Invoke(t.Context(), tb.addr, remoting.NewRequest(protocol.HeartBeat, nil, body)); err != nil {
			t.Fatal(err)
		}
	}
	hb(member, "m1")
	<-notified // its own join
	other := remoting.NewClient(remoting.ClientConfig{})
	hb(other, "m2")
	if g := <-notified; g != "ng" {
		t.Fatalf("notified for %q", g)
	}
	other.Close() // leaves: the remaining member is told
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification when a member left")
	}
	// A member silent past the expiry is dropped.
	if changed := tb.clients.expire(time.Now().Add(121 * time.Second)); len(changed) != 0 || len(tb.clients.consumerIDs("ng")) != 0 {
		t.Fatalf("expiry left %v", tb.clients.consumerIDs("ng"))
	}
}
