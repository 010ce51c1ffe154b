package compat_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

var (
	offsetMsgIDRe = regexp.MustCompile(`^[0-9A-F]{32}$`)
	uniqKeyRe     = regexp.MustCompile(`^[0-9A-Fa-f]{32}$`)
)

// checkOffsetMsgID checks that id is a 32-char IPv4 offset message id
// naming the broker, and returns its commit-log offset.
func checkOffsetMsgID(t *testing.T, brokerAddr, id string) int64 {
	t.Helper()
	if !offsetMsgIDRe.MatchString(id) {
		t.Fatalf("offset message id %q: want 32 upper-case hex characters (IPv4 store host)", id)
	}
	mid, err := primitive.UnmarshalMsgID([]byte(id))
	if err != nil {
		t.Fatalf("offset message id %q: %v", id, err)
	}
	if got := net.JoinHostPort(mid.Addr, strconv.Itoa(mid.Port)); got != brokerAddr {
		t.Fatalf("offset message id %q names store host %s, want the broker %s", id, got, brokerAddr)
	}
	return mid.Offset
}

// TestCompatSendSyncNewTopic: the first send to an unknown topic goes
// through TBW102's route, the broker creates the topic (4 queues, the
// client's defaultTopicQueueNums) and registers it; send results and the
// consumed messages carry every field the client exposes.
func TestCompatSendSyncNewTopic(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	const topic = "NewTopic"
	if slices.Contains(topicList(t, c), topic) {
		t.Fatalf("%s exists before the first send", topic)
	}
	p := startProducer(t, c)

	type sent struct {
		res           *primitive.SendResult
		before, after time.Time
	}
	var sends []sent
	perQueue := map[int][]int64{}
	for i := range 12 {
		msg := primitive.NewMessage(topic, []byte(fmt.Sprint("sync-", i)))
		msg.WithTag("TagA")
		msg.WithKeys([]string{fmt.Sprint("key-", i), "common"})
		msg.WithProperty("user-prop", fmt.Sprint("value-", i))
		msg.Flag = int32(100 + i)
		before := time.Now()
		res := sendSync(t, p, msg)
		sends = append(sends, sent{res, before, time.Now()})
		if !uniqKeyRe.MatchString(res.MsgID) {
			t.Errorf("send %d: MsgID %q is not the client's 32-char unique id", i, res.MsgID)
		}
		checkOffsetMsgID(t, c.BrokerAddr, res.OffsetMsgID)
		mq := res.MessageQueue
		if mq == nil || mq.Topic != topic || mq.BrokerName != brokerName || mq.QueueId < 0 || mq.QueueId >= 4 {
			t.Fatalf("send %d: message queue %v, want %s on %s, queue 0..3", i, mq, topic, brokerName)
		}
		perQueue[mq.QueueId] = append(perQueue[mq.QueueId], res.QueueOffset)
	}
	if len(perQueue) != 4 {
		t.Errorf("round-robin sends used queues %v, want the 4 of an auto-created topic", perQueue)
	}
	for q, offs := range perQueue {
		for i, off := range offs {
			if off != int64(i) {
				t.Errorf("queue %d: queue offsets %v, want 0, 1, 2, ... in send order", q, offs)
				break
			}
		}
	}
	waitTopicListed(t, c, topic, true)
	withAdmin(t, c, func(a admin.Admin) {
		mqs, err := a.FetchPublishMessageQueues(context.Background(), topic)
		if err != nil || len(mqs) != 4 {
			t.Errorf("route of the auto-created topic: %d queues (%v), want 4", len(mqs), err)
		}
	})

	in := newInbox()
	startPushConsumer(t, c, "cg", topic, all, in.callback(consumer.ConsumeSuccess))
	got := in.waitFor(t, 20*time.Second, "all 12 messages", func(d []delivery) bool { return len(d) >= 12 })
	byID := map[string]*primitive.MessageExt{}
	for _, d := range got {
		if byID[d.msg.MsgId] != nil {
			t.Errorf("message %s delivered twice to a lone consumer", d.msg.MsgId)
		}
		byID[d.msg.MsgId] = d.msg
	}
	for i, s := range sends {
		m := byID[s.res.MsgID]
		if m == nil {
			t.Errorf("send %d (MsgID %s) not consumed", i, s.res.MsgID)
			continue
		}
		checks := []struct {
			what      string
			got, want any
		}{
			{"body", string(m.Body), fmt.Sprint("sync-", i)},
			{"topic", m.Topic, topic},
			{"tag", m.GetTags(), "TagA"},
			{"keys", m.GetKeys(), fmt.Sprintf("key-%d common", i)},
			{"user property", m.GetProperty("user-prop"), fmt.Sprint("value-", i)},
			{"flag", m.Flag, int32(100 + i)},
			{"OffsetMsgId", m.OffsetMsgId, s.res.OffsetMsgID},
			{"queue id", queueID(m), s.res.MessageQueue.QueueId},
			{"queue offset", m.QueueOffset, s.res.QueueOffset},
			{"store host", m.StoreHost, c.BrokerAddr},
			{"reconsume times", m.ReconsumeTimes, int32(0)},
			{"CLUSTER property", m.GetProperty("CLUSTER"), "DefaultCluster"},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("send %d: consumed %s = %v, want %v", i, ch.what, ch.got, ch.want)
			}
		}
		if off := checkOffsetMsgID(t, c.BrokerAddr, m.OffsetMsgId); off != m.CommitLogOffset {
			t.Errorf("send %d: commit-log offset %d, but the offset id says %d", i, m.CommitLogOffset, off)
		}
		if !strings.HasPrefix(m.BornHost, "127.0.0.1:") {
			t.Errorf("send %d: born host %q, want the producer's 127.0.0.1 address", i, m.BornHost)
		}
		born, stored := time.UnixMilli(m.BornTimestamp), time.UnixMilli(m.StoreTimestamp)
		if born.Before(s.before.Truncate(time.Millisecond)) || born.After(s.after) {
			t.Errorf("send %d: born timestamp %v outside the send call [%v, %v]", i, born, s.before, s.after)
		}
		if stored.Before(born) || stored.After(s.after) {
			t.Errorf("send %d: store timestamp %v, want between born %v and the send's return %v", i, stored, born, s.after)
		}
	}
}

// TestCompatSendAsync: asynchronous sends are answered (the client panics
// if an answer takes more than 3 s) and delivered.
func TestCompatSendAsync(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	p := startProducer(t, c)
	const n = 20
	type answer struct {
		res *primitive.SendResult
		err error
	}
	answers := make(chan answer, n)
	var want []string
	for i := range n {
		body := fmt.Sprint("async-", i)
		want = append(want, body)
		err := p.SendAsync(context.Background(), func(_ context.Context, res *primitive.SendResult, err error) {
			answers <- answer{res, err}
		}, primitive.NewMessage("Async", []byte(body)))
		if err != nil {
			t.Fatalf("SendAsync %d: %v", i, err)
		}
	}
	ids := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for i := range n {
		select {
		case a := <-answers:
			if a.err != nil || a.res.Status != primitive.SendOK {
				t.Fatalf("async send answered %v, %v", a.res, a.err)
			}
			checkOffsetMsgID(t, c.BrokerAddr, a.res.OffsetMsgID)
			ids[a.res.OffsetMsgID] = true
		case <-timeout:
			t.Fatalf("%d of %d async sends answered", i, n)
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct offset message ids for %d messages", len(ids), n)
	}
	in := newInbox()
	waitTopicListed(t, c, "Async", true) // auto-created: routed once the broker registers it
	startPushConsumer(t, c, "cg", "Async", all, in.callback(consumer.ConsumeSuccess))
	in.waitBodies(t, 20*time.Second, want...)
}

// TestCompatSendOneway: one-way sends (which the Go client sends without
// the oneway flag) are stored.
func TestCompatSendOneway(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	p := startProducer(t, c)
	sendSync(t, p, primitive.NewMessage("Oneway", []byte("first"))) // creates the topic
	want := []string{"first"}
	for i := range 10 {
		body := fmt.Sprint("oneway-", i)
		want = append(want, body)
		if err := p.SendOneWay(context.Background(), primitive.NewMessage("Oneway", []byte(body))); err != nil {
			t.Fatalf("SendOneWay %d: %v", i, err)
		}
	}
	in := newInbox()
	waitTopicListed(t, c, "Oneway", true) // auto-created: routed once the broker registers it
	startPushConsumer(t, c, "cg", "Oneway", all, in.callback(consumer.ConsumeSuccess))
	in.waitBodies(t, 20*time.Second, want...)
}

// TestCompatSendBatch: SendSync with several messages is one
// SEND_BATCH_MESSAGE; the messages land in one queue at consecutive
// offsets, each keeping its tag, keys and properties; the result lists one
// offset id per message, which consumers see as MsgId (batch messages get
// no unique key from the Go client).
func TestCompatSendBatch(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	p := startProducer(t, c)
	const n = 5
	var batch []*primitive.Message
	for i := range n {
		m := primitive.NewMessage("Batched", []byte(fmt.Sprint("batch-", i)))
		m.WithTag(fmt.Sprint("T", i%2))
		m.WithKeys([]string{fmt.Sprint("bk-", i)})
		m.WithProperty("idx", strconv.Itoa(i))
		batch = append(batch, m)
	}
	res := sendSync(t, p, batch...)
	ids := strings.Split(res.OffsetMsgID, ",")
	if len(ids) != n {
		t.Fatalf("batch OffsetMsgID %q: %d ids, want %d", res.OffsetMsgID, len(ids), n)
	}
	offsets := map[string]bool{}
	for _, id := range ids {
		off := checkOffsetMsgID(t, c.BrokerAddr, id)
		offsets[strconv.FormatInt(off, 10)] = true
	}
	if len(offsets) != n {
		t.Fatalf("batch offset ids %v: not %d distinct commit-log offsets", ids, n)
	}
	// A second batch right after the first.
	res2 := sendSync(t, p, primitive.NewMessage("Batched", []byte("second-0")), primitive.NewMessage("Batched", []byte("second-1")))

	in := newInbox()
	waitTopicListed(t, c, "Batched", true) // auto-created: routed once the broker registers it
	startPushConsumer(t, c, "cg", "Batched", all, in.callback(consumer.ConsumeSuccess))
	got := in.waitBodies(t, 20*time.Second, "batch-0", "batch-1", "batch-2", "batch-3", "batch-4", "second-0", "second-1")
	for _, d := range got {
		m := d.msg
		var i int
		if _, err := fmt.Sscanf(string(m.Body), "batch-%d", &i); err != nil {
			if want := res2.QueueOffset + int64(m.Body[len(m.Body)-1]-'0'); m.QueueOffset != want || queueID(m) != res2.MessageQueue.QueueId {
				t.Errorf("%s at q%d@%d, want q%d@%d", m.Body, queueID(m), m.QueueOffset, res2.MessageQueue.QueueId, want)
			}
			continue
		}
		if queueID(m) != res.MessageQueue.QueueId || m.QueueOffset != res.QueueOffset+int64(i) {
			t.Errorf("batch-%d at q%d@%d, want q%d@%d (consecutive from the result's offset)", i, queueID(m), m.QueueOffset, res.MessageQueue.QueueId, res.QueueOffset+int64(i))
		}
		if m.OffsetMsgId != ids[i] || m.MsgId != ids[i] {
			t.Errorf("batch-%d: MsgId %q, OffsetMsgId %q, want both %q (the result's id #%d)", i, m.MsgId, m.OffsetMsgId, ids[i], i)
		}
		if m.GetTags() != fmt.Sprint("T", i%2) || m.GetKeys() != fmt.Sprint("bk-", i) || m.GetProperty("idx") != strconv.Itoa(i) {
			t.Errorf("batch-%d: tag %q keys %q idx %q, want T%d, bk-%d, %d", i, m.GetTags(), m.GetKeys(), m.GetProperty("idx"), i%2, i, i)
		}
	}
}

// TestCompatBodies: bodies the client compresses (>= 4 KiB, sync and
// async), incompressible ones, every byte value (single and in a batch,
// which the client never compresses) and non-ASCII property values arrive
// byte for byte.
func TestCompatBodies(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	p := startProducer(t, c)
	text := bytes.Repeat([]byte("compress me, please. "), 500) // ~10 KiB
	random := make([]byte, 64<<10)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(random)
	everyByte := make([]byte, 256)
	for i := range everyByte {
		everyByte[i] = byte(i)
	}
	want := map[string][]byte{
		"compressible":         text,
		"compressible-async":   bytes.Repeat([]byte("async body "), 800),
		"incompressible":       random,
		"every-byte":           everyByte,
		"every-byte-batch-0":   everyByte,
		"every-byte-batch-1":   append(slices.Clone(everyByte), everyByte...),
		"just-below-threshold": bytes.Repeat([]byte{0xff, 0}, 2047),
	}
	msg := func(name string) *primitive.Message {
		m := primitive.NewMessage("Bodies", want[name])
		m.WithProperty("case", name)
		m.WithProperty("text", "värde ✓ 标签 \"quoted\" a=b;c")
		return m
	}
	for _, name := range []string{"compressible", "incompressible", "every-byte", "just-below-threshold"} {
		sendSync(t, p, msg(name))
	}
	sendSync(t, p, msg("every-byte-batch-0"), msg("every-byte-batch-1"))
	done := make(chan error, 1)
	if err := p.SendAsync(context.Background(), func(_ context.Context, _ *primitive.SendResult, err error) { done <- err },
		msg("compressible-async")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("async send: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("async send of a compressed body not answered")
	}

	in := newInbox()
	waitTopicListed(t, c, "Bodies", true) // auto-created: routed once the broker registers it
	startPushConsumer(t, c, "cg", "Bodies", all, in.callback(consumer.ConsumeSuccess))
	in.waitFor(t, 20*time.Second, "every case", func(d []delivery) bool {
		seen := map[string]bool{}
		for _, x := range d {
			seen[x.msg.GetProperty("case")] = true
		}
		return len(seen) == len(want)
	})
	for _, d := range in.deliveries() {
		name := d.msg.GetProperty("case")
		if !bytes.Equal(d.msg.Body, want[name]) {
			t.Errorf("%s: body of %d bytes arrived as %d different bytes", name, len(want[name]), len(d.msg.Body))
		}
		if v := d.msg.GetProperty("text"); v != "värde ✓ 标签 \"quoted\" a=b;c" {
			t.Errorf("%s: property arrived as %q", name, v)
		}
	}
}
