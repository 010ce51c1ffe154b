package compat_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// sendBodies sends one message per body, synchronously.
func sendBodies(t *testing.T, p rocketmq.Producer, topic, prefix string, n int) []string {
	t.Helper()
	var bodies []string
	for i := range n {
		b := fmt.Sprint(prefix, i)
		bodies = append(bodies, b)
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(b))); err != nil {
			t.Fatalf("send %s: %v", b, err)
		}
	}
	return bodies
}

// waitCommitted waits until the broker holds offsets of group on topic
// that sum to want.
func waitCommitted(t *testing.T, c *mqtest.Cluster, group, topic string, want int64, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		committed, max := committedOffsets(t, c, group, topic)
		if committed == want && max == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the broker holds offsets of %s on %s summing to %d; want %d (max offsets sum to %d)",
				timeout, group, topic, committed, want, max)
		}
	}
}

// resumeAcrossRestart consumes a first batch with one consumer instance,
// waits until the broker holds its offsets (the client commits them every
// 5 s, from 10 s after its start, and with each pull), shuts it down, runs
// between, sends a second batch and checks that a new instance of the
// group gets exactly the second batch.
//
// Waiting for the commit keeps the test exact: the offsets a v2.1.2
// consumer commits when it shuts down may lag behind messages it has just
// consumed (a queue dropped at shutdown skips its last offset updates), so
// at-least-once delivery would allow some of the first batch again.
func resumeAcrossRestart(t *testing.T, c *mqtest.Cluster, between func()) {
	const topic, group = "Resume", "cg-resume"
	createTopic(t, c, topic, 4)
	p := startProducer(t, c)
	first := sendBodies(t, p, topic, "a-", 20)
	in1 := newInbox()
	pc1 := startPushConsumer(t, c, group, topic, all, in1.callback(consumer.ConsumeSuccess))
	in1.waitBodies(t, 20*time.Second, first...)
	waitCommitted(t, c, group, topic, int64(len(first)), 30*time.Second)
	pc1.Shutdown()

	between()
	if committed, max := committedOffsets(t, c, group, topic); committed != max || max != int64(len(first)) {
		t.Errorf("after the restart the broker holds offsets summing to %d, max offsets %d; want %d, %d", committed, max, len(first), len(first))
	}

	second := sendBodies(t, p, topic, "b-", 10)
	in2 := newInbox()
	startPushConsumer(t, c, group, topic, all, in2.callback(consumer.ConsumeSuccess))
	in2.waitBodies(t, 20*time.Second, second...)
	for b, k := range in2.bodies() {
		if strings.HasPrefix(b, "a-") || k > 1 {
			t.Errorf("the new consumer instance got %s %d times; it was consumed and committed before", b, k)
		}
	}
}

// TestCompatOffsetsAcrossConsumerRestart: a new instance of a clustering
// group resumes where the previous one stopped.
func TestCompatOffsetsAcrossConsumerRestart(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	resumeAcrossRestart(t, c, func() {})
}

// TestCompatOffsetsAcrossBrokerRestart: committed offsets survive a broker
// restart.
func TestCompatOffsetsAcrossBrokerRestart(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	resumeAcrossRestart(t, c, c.RestartBroker)
}

// TestCompatClientsSurviveBrokerRestart: a running producer and push
// consumer carry on after the broker restarts under them: the producer
// redials, and the consumer gets the new messages without re-consuming old
// ones once its pulls are retried and a heartbeat has re-registered its
// subscription.
//
// This takes about 33 s: the v2.1.2 client does not fail the requests
// pending on a connection that breaks, so the pulls parked on the old
// broker time out after 30 s and are retried 3 s later (a Java broker
// gives the same).
func TestCompatClientsSurviveBrokerRestart(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	const topic, queues = "Survive", 4
	createTopic(t, c, topic, queues)
	p := startProducer(t, c)
	in := newInbox()
	startPushConsumer(t, c, "cg-survive", topic, all, in.callback(consumer.ConsumeSuccess))
	before := sendBodies(t, p, topic, "before-", 8)
	in.waitBodies(t, 20*time.Second, before...)

	c.RestartBroker()

	restarted := time.Now()
	after := sendBodies(t, p, topic, "after-", 8)
	in.waitBodies(t, 45*time.Second, after...)
	t.Logf("the consumer resumed %v after the restart", time.Since(restarted))
	for b, k := range in.bodies() {
		if strings.HasPrefix(b, "before-") && k > 1 {
			t.Errorf("%s delivered %d times across the restart", b, k)
		}
	}
}

// TestCompatConsumeFromTimestamp: a new group starting from a timestamp
// (second resolution, UTC, as the client parses it) gets the messages
// stored from that second on and none before.
func TestCompatConsumeFromTimestamp(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Stamped", 4)
	p := startProducer(t, c)
	sendBodies(t, p, "Stamped", "old-", 8)
	// The timestamp has second resolution: start at the next whole second,
	// after every old message was stored.
	mark := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(mark)) // waits for the clock, not for an event
	newer := sendBodies(t, p, "Stamped", "new-", 8)
	in := newInbox()
	// One callback per pull (up to 32 messages): anything stored before the
	// mark would come in the same callback as the new messages of its
	// queue, or earlier.
	startPushConsumer(t, c, "cg-stamp", "Stamped", all, in.callback(consumer.ConsumeSuccess),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromTimestamp),
		consumer.WithConsumeTimestamp(mark.UTC().Format("20060102150405")),
		consumer.WithConsumeMessageBatchMaxSize(32))
	in.waitBodies(t, 20*time.Second, newer...)
	for b := range in.bodies() {
		if strings.HasPrefix(b, "old-") {
			t.Errorf("got %s, stored before the start timestamp %v", b, mark)
		}
	}
}

// TestCompatNewGroupConsumesYoungBacklog: like a Java broker, a new group
// with the default CONSUME_FROM_LAST_OFFSET still gets the messages of
// queues whose first message is still stored, instead of skipping them.
func TestCompatNewGroupConsumesYoungBacklog(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Young", 4)
	p := startProducer(t, c)
	backlog := sendBodies(t, p, "Young", "backlog-", 8)
	in := newInbox()
	startPushConsumer(t, c, "cg-young", "Young", all, in.callback(consumer.ConsumeSuccess),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset))
	in.waitBodies(t, 20*time.Second, backlog...)
}

// TestCompatResetOffset: an admin reset of a group's offsets reaches the
// running official consumer as RESET_CONSUMER_CLIENT_OFFSET, whose body
// (a map keyed by message queue objects, fastjson style: not valid JSON)
// the Go client parses with string splitting; the consumer then consumes
// the topic again from the start. The official Go client cannot ask for a
// reset, so Surge's admin client does (as mqadmin resetOffsetByTime would).
//
// This takes over 10 s: the v2.1.2 consumer applies a reset 10 s after the
// request.
func TestCompatResetOffset(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	const topic, group = "Rewind", "cg-rewind"
	createTopic(t, c, topic, 2)
	p := startProducer(t, c)
	bodies := sendBodies(t, p, topic, "r-", 6)
	in := newInbox()
	startPushConsumer(t, c, group, topic, all, in.callback(consumer.ConsumeSuccess))
	in.waitBodies(t, 20*time.Second, bodies...)

	a, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	table, err := a.ResetOffsetByTime(context.Background(), group, topic, 0)
	if err != nil {
		t.Fatalf("reset offsets: %v", err)
	}
	if len(table) != 2 {
		t.Errorf("reset table %v, want both queues", table)
	}
	for q, off := range table {
		if off != 0 {
			t.Errorf("queue %v reset to %d, want 0", q, off)
		}
	}
	in.waitFor(t, 45*time.Second, "every message a second time", func(ds []delivery) bool {
		n := map[string]int{}
		for _, d := range ds {
			n[string(d.msg.Body)]++
		}
		for _, b := range bodies {
			if n[b] < 2 {
				return false
			}
		}
		return true
	})
}
