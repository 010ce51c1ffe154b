package broker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

func TestSendPullRoundTrip(t *testing.T) {
	tb := startBroker(t, nil)
	resp := tb.send(t, "Orders", 1, "hello", map[string]string{"TAGS": "TagA", "KEYS": "k1", "UNIQ_KEY": "U1"})
	if resp.Code != protocol.Success {
		t.Fatalf("send: %d %s", resp.Code, resp.Remark)
	}
	if resp.Ext("queueId") != "1" || resp.Ext("queueOffset") != "0" || len(resp.Ext("msgId")) != 32 {
		t.Fatalf("send response ext: %v", resp.ExtFields)
	}
	tc, ok := tb.topics.get("Orders")
	if !ok || tc.WriteQueueNums != 4 || tc.Perm != protocol.PermRead|protocol.PermWrite {
		t.Fatalf("auto-created topic: %+v %v", tc, ok)
	}
	tb.heartbeat(t, "c1", "g1", "CLUSTERING", map[string]string{"Orders": "*"})
	pr, msgs := tb.pull(t, "g1", "Orders", 1, 0, 0)
	if pr.Code != protocol.Success || len(msgs) != 1 {
		t.Fatalf("pull: %d %s, %d msgs", pr.Code, pr.Remark, len(msgs))
	}
	m := msgs[0]
	if string(m.Body) != "hello" || m.Property("TAGS") != "TagA" || m.Property("CLUSTER") != "DefaultCluster" || m.StoreHost.String() != tb.addr {
		t.Fatalf("pulled message: %+v", m)
	}
	if pr.Ext("nextBeginOffset") != "1" || pr.Ext("minOffset") != "0" || pr.Ext("maxOffset") != "1" || pr.Ext("suggestWhichBrokerId") != "0" {
		t.Fatalf("pull ext: %v", pr.ExtFields)
	}
	// Nothing more: 19 without suspend.
	if pr, _ := tb.pull(t, "g1", "Orders", 1, 1, 0); pr.Code != protocol.PullNotFound || pr.Ext("nextBeginOffset") != "1" {
		t.Fatalf("pull at end: %d %v", pr.Code, pr.ExtFields)
	}
	// Beyond the end: offset moved.
	if pr, _ := tb.pull(t, "g1", "Orders", 1, 9, 0); pr.Code != protocol.PullOffsetMoved {
		t.Fatalf("pull past end: %d", pr.Code)
	}
}

func TestLongPollWakesOnAppend(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "LP", 0, "first", nil)
	tb.heartbeat(t, "c1", "g", "CLUSTERING", map[string]string{"LP": "*"})
	var wg sync.WaitGroup
	start := time.Now()
	var got []*protocol.Message
	wg.Go(func() {
		_, got = tb.pull(t, "g", "LP", 0, 1, 10*time.Second)
	})
	time.Sleep(200 * time.Millisecond) // let the pull park
	tb.send(t, "LP", 0, "second", nil)
	wg.Wait()
	if len(got) != 1 || string(got[0].Body) != "second" {
		t.Fatalf("held pull got %d messages", len(got))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("held pull answered after %v: not woken by the append", d)
	}
}

func TestLongPollTimesOut(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "LP", 0, "first", nil)
	tb.heartbeat(t, "c1", "g", "CLUSTERING", map[string]string{"LP": "*"})
	start := time.Now()
	pr, _ := tb.pull(t, "g", "LP", 0, 1, 300*time.Millisecond)
	if pr.Code != protocol.PullNotFound || pr.Ext("nextBeginOffset") != "1" {
		t.Fatalf("timed-out pull: %d %v", pr.Code, pr.ExtFields)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("pull answered after %v, not held", d)
	}
}

// TestLongPollFilteredAppend: a held pull woken by a message its filter
// drops is answered at once with the offset moved past it (as Java's
// NO_MATCHED_MESSAGE), so the consumer's progress does not trail by a
// whole hold time.
func TestLongPollFilteredAppend(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "LPF", 0, "first", map[string]string{"TAGS": "TagA"})
	tb.heartbeat(t, "c1", "g", "CLUSTERING", map[string]string{"LPF": "TagA"})
	var wg sync.WaitGroup
	var pr *remoting.Command
	wg.Go(func() {
		pr, _ = tb.pull(t, "g", "LPF", 0, 1, 10*time.Second)
	})
	time.Sleep(200 * time.Millisecond) // let the pull park
	tb.send(t, "LPF", 0, "other", map[string]string{"TAGS": "TagB"})
	wg.Wait()
	if pr.Code != protocol.PullRetryImmediately || pr.Ext("nextBeginOffset") != "2" {
		t.Fatalf("pull woken by a filtered message: code %d, next %s (want %d, 2)", pr.Code, pr.Ext("nextBeginOffset"), protocol.PullRetryImmediately)
	}
}

func TestPullTagFilterFromHeartbeat(t *testing.T) {
	tb := startBroker(t, nil)
	for i := range 6 {
		tag := []string{"TagA", "TagB", "标签"}[i%3]
		tb.send(t, "Tags", 0, fmt.Sprint(i), map[string]string{"TAGS": tag})
	}
	tb.heartbeat(t, "c1", "g", "CLUSTERING", map[string]string{"Tags": "TagB || 标签"})
	pr, msgs := tb.pull(t, "g", "Tags", 0, 0, 0)
	if pr.Code != protocol.Success || len(msgs) != 4 {
		t.Fatalf("filtered pull: %d, %d msgs", pr.Code, len(msgs))
	}
	for _, m := range msgs {
		if m.Property("TAGS") == "TagA" {
			t.Fatal("TagA passed the filter")
		}
	}
}

func TestSendErrors(t *testing.T) {
	off := false
	tb := startBroker(t, func(c *Config) {
		c.AutoCreateTopicEnable = &off
		c.Store.MaxMessageSize = 1024
	})
	cases := []struct {
		name   string
		topic  string
		body   string
		code   int16
		remark string
	}{
		{"unknown topic, auto-create off", "Nope", "x", protocol.TopicNotExist, "autoCreateTopicEnable"},
		{"invalid topic", "bad topic", "x", protocol.SystemError, "invalid topic"},
		{"system topic", TopicSchedule, "x", protocol.NoPermission, "system topic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := tb.send(t, tc.topic, 0, tc.body, nil)
			if resp.Code != tc.code || !strings.Contains(resp.Remark, tc.remark) {
				t.Fatalf("got %d %q, want %d containing %q", resp.Code, resp.Remark, tc.code, tc.remark)
			}
		})
	}
	tb.topics.put(newTopicConfig("Small", 4, protocol.PermRead|protocol.PermWrite))
	resp := tb.send(t, "Small", 0, strings.Repeat("x", 2000), nil)
	if resp.Code != protocol.MessageIllegal || !strings.Contains(resp.Remark, "maxMessageSize") {
		t.Fatalf("too large: %d %q", resp.Code, resp.Remark)
	}
	tb.topics.put(newTopicConfig("ReadOnly", 4, protocol.PermRead))
	if resp := tb.send(t, "ReadOnly", 0, "x", nil); resp.Code != protocol.NoPermission {
		t.Fatalf("read-only topic: %d %q", resp.Code, resp.Remark)
	}
	if resp := tb.send(t, "Small", 7, "x", nil); resp.Code != protocol.SystemError || !strings.Contains(resp.Remark, "out of range") {
		t.Fatalf("queue out of range: %d %q", resp.Code, resp.Remark)
	}
	if resp := tb.call(t, 999, nil, nil); resp.Code != protocol.RequestCodeNotSupported {
		t.Fatalf("unknown code: %d", resp.Code)
	}
}

func TestBatchSend(t *testing.T) {
	tb := startBroker(t, nil)
	var body []byte
	for i := range 3 {
		body, _ = protocol.AppendBatchMessage(body, protocol.BatchMessage{Body: []byte(fmt.Sprint("b", i)), Properties: "KEYS\x01k" + fmt.Sprint(i) + "\x02"})
	}
	h := protocol.SendMessageHeader{ProducerGroup: "pg", Topic: "Batch", DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4, QueueID: 2, Batch: true}
	resp := tb.call(t, protocol.SendBatchMessage, h.ExtV2(), body)
	if resp.Code != protocol.Success || len(strings.Split(resp.Ext("msgId"), ",")) != 3 {
		t.Fatalf("batch: %d %q %v", resp.Code, resp.Remark, resp.ExtFields)
	}
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"Batch": "*"})
	_, msgs := tb.pull(t, "g", "Batch", 2, 0, 0)
	if len(msgs) != 3 || string(msgs[2].Body) != "b2" || msgs[2].QueueOffset != 2 {
		t.Fatalf("batch pulled %d", len(msgs))
	}
	if resp := tb.call(t, protocol.SendBatchMessage, h.ExtV2(), []byte{1, 2, 3}); resp.Code != protocol.MessageIllegal {
		t.Fatalf("garbage batch: %d %q", resp.Code, resp.Remark)
	}
}

func TestOffsetsPersistAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	edit := func(c *Config) { c.Store.Dir = dir }
	tb := startBroker(t, edit)
	tb.send(t, "O", 0, "x", nil)
	tb.call(t, protocol.UpdateConsumerOffset, protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "g", Topic: "O", QueueID: 0, CommitOffset: 1}.Ext(), nil)
	resp := tb.call(t, protocol.QueryConsumerOffset, protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: "g", Topic: "O", QueueID: 0}.Ext(), nil)
	if resp.Ext("offset") != "1" {
		t.Fatalf("query offset: %d %v", resp.Code, resp.ExtFields)
	}
	tb.Shutdown(t.Context())
	tb2 := startBroker(t, edit)
	resp = tb2.call(t, protocol.QueryConsumerOffset, protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: "g", Topic: "O", QueueID: 0}.Ext(), nil)
	if resp.Ext("offset") != "1" {
		t.Fatalf("offset after restart: %d %v", resp.Code, resp.ExtFields)
	}
	if resp := tb2.call(t, protocol.GetMaxOffset, protocol.TopicQueueRequestHeader{Topic: "O", QueueID: 0}.Ext(), nil); resp.Ext("offset") != "1" {
		t.Fatalf("max offset after restart: %v", resp.ExtFields)
	}
}

func TestConsumerListAndNotify(t *testing.T) {
	tb := startBroker(t, nil)
	tb.heartbeat(t, "c1", "g", "CLUSTERING", map[string]string{"T": "*"})
	resp := tb.call(t, protocol.GetConsumerListByGroup, map[string]string{"consumerGroup": "g"}, nil)
	l, err := protocol.UnmarshalConsumerIDList(resp.Body)
	if err != nil || len(l.ConsumerIDList) != 1 || l.ConsumerIDList[0] != "c1" {
		t.Fatalf("consumer list: %v %v", l, err)
	}
	if _, ok := tb.topics.get(RetryTopic("g")); !ok {
		t.Fatal("heartbeat did not create the retry topic")
	}
	// The connection closes: the group empties.
	tb.client.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(tb.clients.consumerIDs("g")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("closed connection still registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// storedProperties builds the common case in one allocation; whatever the
// input, the result is the one of the general rule: props and extra
// joined, WAIT removed, CLUSTER set.
func TestStoredProperties(t *testing.T) {
	b := &Broker{cfg: Config{ClusterName: "C1"}}
	general := func(props, extra string) string {
		return protocol.SetProperty(protocol.DeleteProperty(joinProperties(props, extra), protocol.PropertyWaitStoreMsgOK), protocol.PropertyCluster, "C1")
	}
	parts := []string{
		"",
		"UNIQ_KEY\x01A1\x02",
		"UNIQ_KEY\x01A1", // Java's form: no separator after the last pair
		"TAGS\x01t\x02WAIT\x01true\x02",
		"WAIT\x01false",
		"CLUSTER\x01other\x02KEYS\x01k\x02",
		"KEYS\x01WAIT\x02", // WAIT as a value, not a name
		"\x02\x02TAGS\x01x\x02",
	}
	for _, props := range parts {
		for _, extra := range parts {
			if got, want := b.storedProperties(props, extra), general(props, extra); got != want {
				t.Errorf("storedProperties(%q, %q) = %q, want %q", props, extra, got, want)
			}
		}
	}
}
