package compat_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/mqtest"
)

// TestCompatDelayLevels: messages with delay levels 1..3 (1 s, 2 s, 3 s in
// this test's broker config) reach a running consumer no earlier than
// their delay and not much later, in level order, as themselves (same
// unique id, topic and queue, DELAY property gone); a message without a
// delay sent after them overtakes them.
func TestCompatDelayLevels(t *testing.T) {
	t.Parallel()
	const step = time.Second
	c := mqtestStart(t, shortDelays(step))
	createTopic(t, c, "Delayed", 4)
	p := startProducer(t, c)
	in := newInbox()
	startPushConsumer(t, c, "cg-delay", "Delayed", all, in.callback(consumer.ConsumeSuccess))
	// The consumer is pulling every queue once a message per queue came
	// back.
	for q := range 4 {
		sendSync(t, p, primitive.NewMessage("Delayed", []byte(fmt.Sprint("warm-", q))))
	}
	in.waitBodies(t, 20*time.Second, "warm-0", "warm-1", "warm-2", "warm-3")

	type sent struct {
		level         int
		before, after time.Time
		res           *primitive.SendResult
	}
	sends := map[string]sent{}
	for _, level := range []int{3, 2, 1} {
		body := fmt.Sprint("level-", level)
		m := primitive.NewMessage("Delayed", []byte(body))
		m.WithDelayTimeLevel(level)
		before := time.Now()
		res := sendSync(t, p, m)
		sends[body] = sent{level, before, time.Now(), res}
	}
	sendSync(t, p, primitive.NewMessage("Delayed", []byte("no-delay")))
	got := in.waitBodies(t, 20*time.Second, "level-1", "level-2", "level-3", "no-delay")

	var order []string
	for _, d := range got {
		body := string(d.msg.Body)
		if body == "no-delay" || sends[body].level > 0 {
			order = append(order, body)
		}
		s, ok := sends[body]
		if !ok {
			continue
		}
		delay := time.Duration(s.level) * step
		if early := s.before.Truncate(time.Millisecond).Add(delay).Sub(d.at); early > 0 {
			t.Errorf("%s delivered %v before its %v delay was over", body, early, delay)
		}
		if late := d.at.Sub(s.after.Add(delay)); late > 1500*time.Millisecond {
			t.Errorf("%s delivered %v after its %v delay was over", body, late, delay)
		}
		m := d.msg
		if m.MsgId != s.res.MsgID || m.Topic != "Delayed" || queueID(m) != s.res.MessageQueue.QueueId {
			t.Errorf("%s arrived as id %s topic %s queue %d, want id %s topic Delayed queue %d",
				body, m.MsgId, m.Topic, queueID(m), s.res.MsgID, s.res.MessageQueue.QueueId)
		}
		if v := m.GetProperty(primitive.PropertyDelayTimeLevel); v != "" {
			t.Errorf("%s arrived with DELAY=%s; a consumer re-sending it would delay it again", body, v)
		}
	}
	if want := []string{"no-delay", "level-1", "level-2", "level-3"}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("delivery order %v, want %v", order, want)
	}
	for body, k := range in.bodies() {
		if k != 1 {
			t.Errorf("%s delivered %d times", body, k)
		}
	}
}

// txListener decides by body: "commit" and "rollback" at once, anything
// else unknown, then committed when the broker checks back.
type txListener struct {
	mu      sync.Mutex
	checked map[string]int // body -> CheckLocalTransaction calls
	topics  map[string]bool
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch string(m.Body) {
	case "commit", "commit-2":
		return primitive.CommitMessageState
	case "rollback":
		return primitive.RollbackMessageState
	}
	return primitive.UnknowState
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checked[string(m.Body)]++
	l.topics[m.Topic] = true
	if string(m.Body) == "rollback" {
		return primitive.RollbackMessageState
	}
	return primitive.CommitMessageState
}

func (l *txListener) checks(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checked[body]
}

// TestCompatTransactions: a committed half message is delivered, a rolled
// back one never is, and an unknown one is checked back (the check carries
// the real topic) and delivered once the check commits it, not before the
// transaction timeout.
func TestCompatTransactions(t *testing.T) {
	t.Parallel()
	const txTimeout = 500 * time.Millisecond
	c := mqtestStart(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) {
		cfg.TransactionTimeout = txTimeout
		cfg.TransactionCheckInterval = 200 * time.Millisecond
	}))
	// One queue: the messages are stored in the order their transactions
	// end, so a mis-delivered rollback would show up before "unknown".
	createTopic(t, c, "TxTopic", 1)
	l := &txListener{checked: map[string]int{}, topics: map[string]bool{}}
	tp, err := producer.NewTransactionProducer(l, producer.WithNameServer([]string{c.NamesrvAddr}),
		producer.WithGroupName("tx-pg"), producer.WithInstanceName(newInstanceName()))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Shutdown() })
	in := newInbox()
	startPushConsumer(t, c, "cg-tx", "TxTopic", all, in.callback(consumer.ConsumeSuccess))

	sentAt := map[string]time.Time{}
	for _, body := range []string{"commit", "rollback", "unknown"} {
		sentAt[body] = time.Now()
		res, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage("TxTopic", []byte(body)))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if res.Status != primitive.SendOK {
			t.Fatalf("%s: half message not stored: %v", body, res.SendResult)
		}
		checkOffsetMsgID(t, c.BrokerAddr, res.OffsetMsgID)
	}
	got := in.waitBodies(t, 20*time.Second, "commit", "unknown")
	for _, d := range got {
		if string(d.msg.Body) == "unknown" {
			if early := sentAt["unknown"].Add(txTimeout).Sub(d.at); early > 0 {
				t.Errorf("the unknown transaction was delivered %v before the transaction timeout: nothing checked it yet", early)
			}
		}
	}
	if l.checks("unknown") == 0 {
		t.Error("the unknown transaction was delivered without a check-back")
	}
	// One more commit after the check-back settled: with a single queue it
	// lands after anything stored before it.
	if _, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage("TxTopic", []byte("commit-2"))); err != nil {
		t.Fatal(err)
	}
	in.waitBodies(t, 20*time.Second, "commit-2")
	if got, want := in.bodies(), map[string]int{"commit": 1, "unknown": 1, "commit-2": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if n := c.Broker.Store().MaxOffset("TxTopic", 0); n != 3 {
		t.Errorf("TxTopic holds %d messages, want 3 (commit, unknown, commit-2): rollback or a second commit was stored", n)
	}
	for _, body := range []string{"commit", "rollback", "commit-2"} {
		if n := l.checks(body); n != 0 {
			t.Errorf("transaction %q, ended at once, was checked back %d times", body, n)
		}
	}
	l.mu.Lock()
	if len(l.topics) != 1 || !l.topics["TxTopic"] {
		t.Errorf("check-back messages carried topics %v, want the real topic TxTopic", l.topics)
	}
	l.mu.Unlock()
}

// TestCompatRetryAndDLQ: the broker creates %RETRY%<group> at the group's
// first heartbeat and registers it; a message whose consumption keeps
// failing comes back from the retry topic (same id, original topic,
// increasing reconsume times, after the retry delays) until
// MaxReconsumeTimes, then lands in %DLQ%<group>, which can be consumed.
func TestCompatRetryAndDLQ(t *testing.T) {
	t.Parallel()
	const step = 200 * time.Millisecond // retries use levels 3 and 4: 600 ms, 800 ms
	c := mqtestStart(t, shortDelays(step))
	const group, retryTopic, dlqTopic = "cg-retry", "%RETRY%cg-retry", "%DLQ%cg-retry"
	createTopic(t, c, "Flaky", 4)

	// A first member of the group makes the broker create the retry
	// topic. The Go client looks the retry topic's route up only at start
	// and every 30 s, so the consumer that fails comes second.
	first := startPushConsumer(t, c, group, "Flaky", all, newInbox().callback(consumer.ConsumeSuccess))
	waitTopicListed(t, c, retryTopic, true)
	first.Shutdown()

	in := newInbox()
	startPushConsumer(t, c, group, "Flaky", all, in.callback(consumer.ConsumeRetryLater), consumer.WithMaxReconsumeTimes(2))
	p := startProducer(t, c)
	m := primitive.NewMessage("Flaky", []byte("poison"))
	m.WithKeys([]string{"poison-key"})
	res := sendSync(t, p, m)

	waitUntil(t, 30*time.Second, "the message in "+dlqTopic, func() bool { return c.Broker.Store().MaxOffset(dlqTopic, 0) > 0 })
	attempts := in.deliveries()
	if len(attempts) != 3 {
		t.Fatalf("%d deliveries before the DLQ, want 3 (first + 2 retries): %s", len(attempts), summarize(attempts))
	}
	for i, d := range attempts {
		m := d.msg
		if m.MsgId != res.MsgID || string(m.Body) != "poison" || m.Topic != "Flaky" || m.ReconsumeTimes != int32(i) {
			t.Errorf("delivery %d: id %s body %q topic %s reconsume times %d, want %s, poison, Flaky, %d",
				i, m.MsgId, m.Body, m.Topic, m.ReconsumeTimes, res.MsgID, i)
		}
		if i > 0 {
			if min := time.Duration(2+i) * step; d.at.Sub(attempts[i-1].at) < min {
				t.Errorf("retry %d came %v after the previous delivery, before its delay level's %v", i, d.at.Sub(attempts[i-1].at), min)
			}
		}
	}

	waitTopicListed(t, c, dlqTopic, true)
	dlq := newInbox()
	startPushConsumer(t, c, "cg-dlq-reader", dlqTopic, all, dlq.callback(consumer.ConsumeSuccess))
	got := dlq.waitFor(t, 20*time.Second, "the dead letter", func(d []delivery) bool { return len(d) > 0 })
	if m := got[0].msg; string(m.Body) != "poison" || m.MsgId != res.MsgID || m.GetKeys() != "poison-key" {
		t.Errorf("dead letter: body %q id %s keys %q, want poison, %s, poison-key", m.Body, m.MsgId, m.GetKeys(), res.MsgID)
	}
	if n := c.Broker.Store().MaxOffset(dlqTopic, 0); n != 1 {
		t.Errorf("%s holds %d messages, want 1", dlqTopic, n)
	}
	if n := len(in.deliveries()); n != 3 {
		t.Errorf("%d deliveries to the failing consumer, want 3: the message came back after the DLQ", n)
	}
}

// TestCompatRequestReply: Producer.Request stores a request carrying
// CORRELATION_ID and REPLY_TO_CLIENT; a consumer answers with
// CreateReplyMessage through another producer (SEND_REPLY_MESSAGE) and
// the broker pushes the reply to the requester's connection.
func TestCompatRequestReply(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Requests", 2)
	replier := startProducer(t, c)
	instance := newInstanceName()
	requester, err := producer.NewDefaultProducer(producer.WithNameServer([]string{c.NamesrvAddr}),
		producer.WithGroupName("pg-requester"), producer.WithInstanceName(instance))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { requester.Shutdown() })
	replyErrs := make(chan error, 10)
	// The responder shares the requester's client instance so that its
	// start sends a heartbeat naming the requester's producer group at
	// once (a lone producer's first heartbeat comes after 1 s), and the
	// broker knows where to push replies. Both are created before either
	// starts.
	responder := pushConsumer(t, c, "cg-responder", "Requests", all,
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				reply, err := consumer.CreateReplyMessage(m, nil)
				if err != nil {
					replyErrs <- err
					continue
				}
				// v2.1.2's CreateReplyMessage drops the body it is given.
				reply.Body = []byte("re: " + string(m.Body))
				if _, err := replier.SendSync(ctx, reply); err != nil {
					replyErrs <- fmt.Errorf("send reply: %w", err)
				}
			}
			return consumer.ConsumeSuccess, nil
		}, consumer.WithInstance(instance))
	if err := requester.Start(); err != nil {
		t.Fatal(err)
	}
	if err := responder.Start(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		body := "question-" + strconv.Itoa(i)
		reply, err := requester.Request(context.Background(), 10*time.Second, primitive.NewMessage("Requests", []byte(body)))
		select {
		case e := <-replyErrs:
			t.Fatalf("responder: %v", e)
		default:
		}
		if err != nil {
			t.Fatalf("Request %d: %v", i, err)
		}
		if got := string(reply.Body); got != "re: "+body {
			t.Fatalf("reply %q, want %q", got, "re: "+body)
		}
	}
}
