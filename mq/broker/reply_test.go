package broker

import (
	"context"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// requester is a client that heartbeats as a producer and records what the
// broker pushes to it.
func requester(t *testing.T, tb *testBroker, id string, answer func(*remoting.Command) *remoting.Command) chan *remoting.Command {
	t.Helper()
	got := make(chan *remoting.Command, 4)
	cl := remoting.NewClient(remoting.ClientConfig{Handler: remoting.HandlerFunc(func(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
		got <- req
		return answer(req)
	})})
	t.Cleanup(func() { cl.Close() })
	hb, _ := (&protocol.HeartbeatData{ClientID: id, ProducerDataSet: []protocol.ProducerData{{GroupName: "rq"}}}).Marshal()
	if _, err := cl.Invoke(t.Context(), tb.addr, remoting.NewRequest(protocol.HeartBeat, nil, hb)); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReplyIsPushedToRequester(t *testing.T) {
	tb := startBroker(t, nil)
	pushed := requester(t, tb, "req-1", func(req *remoting.Command) *remoting.Command { return remoting.NewResponse(req, 0, "") })
	h := protocol.SendMessageHeader{ProducerGroup: "rp", Topic: "DefaultCluster_REPLY_TOPIC", DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4,
		BornTimestamp: time.Now().UnixMilli(), Properties: protocol.MarshalProperties(map[string]string{"REPLY_TO_CLIENT": "req-1", "CORRELATION_ID": "c-1", "MSG_TYPE": "reply"})}
	resp := tb.call(t, protocol.SendReplyMessage, h.Ext(), []byte("the answer"))
	if resp.Code != protocol.Success {
		t.Fatalf("reply: %d %q", resp.Code, resp.Remark)
	}
	p := <-pushed
	if p.Code != protocol.PushReplyMessageToClient || string(p.Body) != "the answer" || protocol.PropertyValue(p.Ext("properties"), "CORRELATION_ID") != "c-1" || p.Ext("storeHost") != tb.addr {
		t.Fatalf("pushed %+v", p)
	}
	h.Properties = protocol.MarshalProperties(map[string]string{"REPLY_TO_CLIENT": "gone"})
	if r := tb.call(t, protocol.SendReplyMessageV2, h.ExtV2(), []byte("x")); r.Code != protocol.SystemError {
		t.Fatalf("reply to an absent requester: %d", r.Code)
	}
}

func TestRelayConsumeMessageDirectly(t *testing.T) {
	tb := startBroker(t, nil)
	sent := tb.send(t, "Direct", 0, "replay me", nil)
	got := requester(t, tb, "cons-1", func(req *remoting.Command) *remoting.Command {
		resp := remoting.NewResponse(req, 0, "")
		resp.Body = []byte(`{"consumeResult":0}`)
		return resp
	})
	r := tb.call(t, protocol.ConsumeMessageDirectly, map[string]string{"consumerGroup": "g", "clientId": "cons-1", "msgId": sent.Ext("msgId")}, nil)
	if r.Code != protocol.Success || string(r.Body) != `{"consumeResult":0}` {
		t.Fatalf("relay answer: %d %s", r.Code, r.Body)
	}
	req := <-got
	if m, err := protocol.DecodeMessage(req.Body, true); err != nil || string(m.Body) != "replay me" || req.Ext("brokerName") != "broker-a" {
		t.Fatalf("relayed request: %v %+v", err, req.ExtFields)
	}
	if r := tb.call(t, protocol.GetConsumerRunningInfo, map[string]string{"consumerGroup": "g", "clientId": "nobody"}, nil); r.Code != consumerNotOnline {
		t.Fatalf("absent client: %d", r.Code)
	}
}

func TestSendV2HeaderAndHeartbeatVersion(t *testing.T) {
	tb := startBroker(t, nil)
	h := protocol.SendMessageHeader{ProducerGroup: "p", Topic: "V2", DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4, QueueID: 3}
	if r := tb.call(t, protocol.SendMessageV2, h.ExtV2(), []byte("java style")); r.Code != protocol.Success || r.Ext("queueId") != "3" {
		t.Fatalf("V2 send: %d %q", r.Code, r.Remark)
	}
	hb, _ := (&protocol.HeartbeatData{ClientID: "x"}).Marshal()
	if r := tb.call(t, protocol.HeartBeat, nil, hb); r.Version != brokerVersion {
		t.Fatalf("heartbeat answer version %d, want %d (clients gate features on it)", r.Version, brokerVersion)
	}
}
