package compat_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/mqtest"
)

// shortDelays makes delay level L last L*300ms.
func shortDelays(c *broker.Config) {
	c.MessageDelayLevel = nil
	for i := range 18 {
		c.MessageDelayLevel = append(c.MessageDelayLevel, time.Duration(i+1)*300*time.Millisecond)
	}
}

func TestCompatOrderly(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c, producer.WithQueueSelector(producer.NewHashQueueSelector()))
	const keys, perKey = 4, 25
	for i := range perKey {
		for k := range keys {
			msg := primitive.NewMessage("Ordered", []byte(fmt.Sprintf("%d:%d", k, i)))
			msg.WithShardingKey(fmt.Sprint("order-", k))
			if _, err := p.SendSync(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := newReceived()
	newPushConsumer(t, c, "cg-orderly", "Ordered", consumer.MessageSelector{}, r, consumer.WithConsumerOrder(true))
	got := r.waitFor(t, 30*time.Second, "every ordered message", atLeast(keys*perKey))
	next := map[int]int{}
	for _, m := range got {
		var k, i int
		fmt.Sscanf(string(m.Body), "%d:%d", &k, &i)
		if i != next[k] {
			t.Fatalf("key %d: got %d, want %d: order broken", k, i, next[k])
		}
		next[k]++
	}
}

func TestCompatDelay(t *testing.T) {
	c := mqtest.Start(t, mqtest.WithBrokerConfig(shortDelays))
	p := newProducer(t, c)
	r := newReceived()
	p.SendSync(context.Background(), primitive.NewMessage("Delayed", []byte("create")))
	newPushConsumer(t, c, "cg-delay", "Delayed", consumer.MessageSelector{}, r)
	r.waitFor(t, 20*time.Second, "the first message", atLeast(1))
	sent := map[string]time.Time{}
	for level := 1; level <= 3; level++ {
		msg := primitive.NewMessage("Delayed", []byte(strconv.Itoa(level)))
		msg.WithDelayTimeLevel(level)
		sent[strconv.Itoa(level)] = time.Now()
		if _, err := p.SendSync(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	got := r.waitFor(t, 20*time.Second, "the delayed messages", atLeast(4))
	arrived := time.Now()
	for _, m := range got[1:] {
		level, _ := strconv.Atoi(string(m.Body))
		delay := time.Duration(level) * 300 * time.Millisecond
		if late := time.UnixMilli(m.StoreTimestamp).Sub(sent[string(m.Body)]); late < delay-50*time.Millisecond {
			t.Errorf("level %d stored %v after sending, before its %v delay", level, late, delay)
		}
	}
	if arrived.Sub(sent["3"]) > 5*time.Second {
		t.Errorf("delayed messages arrived far too late: %v", arrived.Sub(sent["3"]))
	}
}

// txListener decides by the body: "commit", "rollback" or "unknown"
// (checked later, then committed).
type txListener struct{ checked atomic.Int32 }

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch string(m.Body) {
	case "commit":
		return primitive.CommitMessageState
	case "rollback":
		return primitive.RollbackMessageState
	}
	return primitive.UnknowState
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.checked.Add(1)
	return primitive.CommitMessageState
}

func TestCompatTransactions(t *testing.T) {
	c := mqtest.Start(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) {
		cfg.TransactionTimeout = 500 * time.Millisecond
		cfg.TransactionCheckInterval = 200 * time.Millisecond
	}))
	l := &txListener{}
	tp, err := producer.NewTransactionProducer(l, producer.WithNameServer([]string{c.NamesrvAddr}), producer.WithGroupName("tx-pg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Shutdown() })
	for _, body := range []string{"commit", "rollback", "unknown"} {
		res, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage("TxTopic", []byte(body)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("%s: %v %v", body, res, err)
		}
	}
	r := newReceived()
	newPushConsumer(t, c, "cg-tx", "TxTopic", consumer.MessageSelector{}, r)
	got := r.waitFor(t, 30*time.Second, "commit and the checked-back unknown", atLeast(2))
	time.Sleep(500 * time.Millisecond)
	got = r.snapshot()
	bodies := map[string]int{}
	for _, m := range got {
		bodies[string(m.Body)]++
	}
	if bodies["commit"] != 1 || bodies["unknown"] != 1 || bodies["rollback"] != 0 || l.checked.Load() == 0 {
		t.Fatalf("delivered %v, checks %d", bodies, l.checked.Load())
	}
}

func TestCompatRetryAndDLQ(t *testing.T) {
	c := mqtest.Start(t, mqtest.WithBrokerConfig(shortDelays))
	p := newProducer(t, c)
	p.SendSync(context.Background(), primitive.NewMessage("Flaky", []byte("poison")))
	// The broker creates the retry topic at the group's first heartbeat; a
	// client that started before its route existed only picks it up at its
	// next rebalance (20 s). Creating it first keeps the test short.
	createTopic(t, c, "%RETRY%cg-retry", 1)
	var attempts atomic.Int32
	pc, err := consumer.NewPushConsumer(
		consumer.WithNameServer([]string{c.NamesrvAddr}), consumer.WithGroupName("cg-retry"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset), consumer.WithMaxReconsumeTimes(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	pc.Subscribe("Flaky", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		attempts.Add(int32(len(msgs)))
		return consumer.ConsumeRetryLater, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	deadline := time.Now().Add(40 * time.Second)
	for c.Broker.Store().MaxOffset("%DLQ%cg-retry", 0) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not in the DLQ after %d attempts", attempts.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3 (first delivery + 2 retries)", n)
	}
}

func TestCompatOffsetsAcrossRestarts(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c)
	send := func(from, n int) {
		for i := range n {
			if _, err := p.SendSync(context.Background(), primitive.NewMessage("Resume", []byte(strconv.Itoa(from+i)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 20)
	consume := func(want int) []*primitive.MessageExt {
		r := newReceived()
		pc, err := consumer.NewPushConsumer(consumer.WithNameServer([]string{c.NamesrvAddr}), consumer.WithGroupName("cg-resume"),
			consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
		if err != nil {
			t.Fatal(err)
		}
		pc.Subscribe("Resume", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			r.add(msgs...)
			return consumer.ConsumeSuccess, nil
		})
		if err := pc.Start(); err != nil {
			t.Fatal(err)
		}
		got := r.waitFor(t, 30*time.Second, "messages", atLeast(want))
		time.Sleep(300 * time.Millisecond)
		pc.Shutdown() // commits offsets
		return got
	}
	consume(20)
	send(20, 10)
	c.RestartBroker()
	got := consume(10)
	for _, m := range got {
		if n, _ := strconv.Atoi(string(m.Body)); n < 20 {
			t.Fatalf("message %d delivered again after restarts", n)
		}
	}
}

func TestCompatConsumeFromTimestamp(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c)
	for i := range 5 {
		p.SendSync(context.Background(), primitive.NewMessage("Stamped", []byte(fmt.Sprint("old", i))))
	}
	time.Sleep(1100 * time.Millisecond)
	mark := time.Now()
	for i := range 5 {
		p.SendSync(context.Background(), primitive.NewMessage("Stamped", []byte(fmt.Sprint("new", i))))
	}
	r := newReceived()
	newPushConsumer(t, c, "cg-stamp", "Stamped", consumer.MessageSelector{}, r,
		consumer.WithConsumeFromWhere(consumer.ConsumeFromTimestamp),
		consumer.WithConsumeTimestamp(mark.UTC().Format("20060102150405")))
	got := r.waitFor(t, 30*time.Second, "the new messages", atLeast(5))
	for _, m := range got {
		if bytes.HasPrefix(m.Body, []byte("old")) {
			t.Fatalf("got %s from before the timestamp", m.Body)
		}
	}
}

func TestCompatAdmin(t *testing.T) {
	c := mqtest.Start(t)
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{c.NamesrvAddr})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx := context.Background()
	createTopic(t, c, "AdminTopic", 8)
	if err := adm.DeleteTopic(ctx, admin.WithTopicDelete("AdminTopic"), admin.WithBrokerAddrDelete(c.BrokerAddr), admin.WithNameSrvAddr([]string{c.NamesrvAddr})); err != nil {
		t.Fatal(err)
	}
	if list, err := adm.FetchAllTopicList(ctx); err != nil || contains(list.TopicList, "AdminTopic") {
		t.Fatalf("deleted topic still listed: %v %v", list, err)
	}
}

// createTopic creates a topic with the official admin client and waits
// until the NameServer routes it.
func createTopic(t *testing.T, c *mqtest.Cluster, topic string, queues int) {
	t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{c.NamesrvAddr})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx := context.Background()
	err = adm.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(c.BrokerAddr), admin.WithReadQueueNums(queues), admin.WithWriteQueueNums(queues))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := adm.FetchAllTopicList(ctx)
		if err == nil && contains(list.TopicList, topic) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("created topic %s not listed: %v %v", topic, list, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCompatCompressedAndBinaryBodies(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c)
	big := bytes.Repeat([]byte("compress me please "), 1000) // > 4 KiB: the client compresses
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	for _, body := range [][]byte{big, bin} {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage("Bodies", body)); err != nil {
			t.Fatal(err)
		}
	}
	r := newReceived()
	newPushConsumer(t, c, "cg-bodies", "Bodies", consumer.MessageSelector{}, r)
	got := r.waitFor(t, 30*time.Second, "both bodies", atLeast(2))
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	found := 0
	for _, m := range got {
		if bytes.Equal(m.Body, big) || bytes.Equal(m.Body, bin) {
			found++
		}
	}
	if found != 2 {
		t.Fatal("a body arrived changed")
	}
}
