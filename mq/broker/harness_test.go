package broker

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// testBroker is a real broker on 127.0.0.1 with a temp store, and a
// remoting client to talk to it.
type testBroker struct {
	*Broker
	client *remoting.Client
	addr   string
}

// startBroker starts a broker; edit adjusts its config first.
func startBroker(t testing.TB, edit func(*Config)) *testBroker {
	t.Helper()
	cfg := Config{
		BrokerIP: "127.0.0.1",
		Store: store.Config{
			Dir:          t.TempDir(),
			SegmentSize:  8 << 20,
			IndexSlots:   1024,
			IndexEntries: 4096,
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Serve(ln) }()
	<-b.serving
	tb := &testBroker{Broker: b, client: remoting.NewClient(remoting.ClientConfig{}), addr: b.Addr()}
	t.Cleanup(func() {
		tb.client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return tb
}

// call sends a request and returns the response.
func (tb *testBroker) call(t *testing.T, code int16, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := tb.client.Invoke(ctx, tb.addr, remoting.NewRequest(code, ext, body))
	if err != nil {
		t.Fatalf("request %d: %v", code, err)
	}
	return resp
}

// send sends one message with the V1 header (as the Go client does).
func (tb *testBroker) send(t *testing.T, topic string, queueID int32, body string, props map[string]string) *remoting.Command {
	t.Helper()
	h := protocol.SendMessageHeader{
		ProducerGroup: "pg", Topic: topic, DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4,
		QueueID: queueID, BornTimestamp: time.Now().UnixMilli(), Properties: protocol.MarshalProperties(props),
	}
	return tb.call(t, protocol.SendMessage, h.Ext(), []byte(body))
}

// heartbeat registers a consumer group subscribed to topics with expr.
func (tb *testBroker) heartbeat(t *testing.T, clientID, group, model string, subs map[string]string) {
	t.Helper()
	hb := protocol.HeartbeatData{ClientID: clientID}
	cd := protocol.ConsumerData{GroupName: group, ConsumeType: "CONSUME_PASSIVELY", MessageModel: model, ConsumeFromWhere: "CONSUME_FROM_LAST_OFFSET"}
	for topic, expr := range subs {
		sd := protocol.SubscriptionData{Topic: topic, SubString: expr, ExpressionType: protocol.ExpressionTag, SubVersion: time.Now().UnixNano()}
		sd.Normalize()
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, sd)
	}
	hb.ConsumerDataSet = []protocol.ConsumerData{cd}
	body, err := hb.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if resp := tb.call(t, protocol.HeartBeat, nil, body); resp.Code != protocol.Success {
		t.Fatalf("heartbeat: %d %s", resp.Code, resp.Remark)
	}
}

// pull pulls from a queue with the heartbeat's subscription.
func (tb *testBroker) pull(t *testing.T, group, topic string, queueID int32, offset int64, suspend time.Duration) (*remoting.Command, []*protocol.Message) {
	t.Helper()
	h := protocol.PullMessageRequestHeader{
		ConsumerGroup: group, Topic: topic, QueueID: queueID, QueueOffset: offset, MaxMsgNums: 32,
		SysFlag: protocol.PullSuspend, SuspendTimeoutMillis: suspend.Milliseconds(), ExpressionType: protocol.ExpressionTag,
	}
	if suspend == 0 {
		h.SysFlag = 0
	}
	resp := tb.call(t, protocol.PullMessage, h.Ext(), nil)
	var msgs []*protocol.Message
	if resp.Code == protocol.Success {
		var err error
		if msgs, err = protocol.DecodeMessages(resp.Body); err != nil {
			t.Fatalf("pulled body: %v", err)
		}
	}
	return resp, msgs
}
