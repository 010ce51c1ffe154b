package compat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// orderedBody is the body of key k's i-th message; parseOrdered reads it
// back.
func orderedBody(k, i int) string { return fmt.Sprintf("%d:%d", k, i) }

// sendOrdered sends messages from to to-1 of keys keys, key by key in each
// round, with the official producer p (its queue selector hashing the
// sharding key "order-<k>"), and fails the test unless each key stays on
// one queue; keyQueue remembers the queues across calls.
func sendOrdered(t *testing.T, p rocketmq.Producer, topic string, keys, from, to int, keyQueue map[int]int) {
	t.Helper()
	for i := from; i < to; i++ {
		for k := range keys {
			m := primitive.NewMessage(topic, []byte(orderedBody(k, i)))
			m.WithShardingKey(fmt.Sprint("order-", k))
			res := sendSync(t, p, m)
			if q, ok := keyQueue[k]; ok && q != res.MessageQueue.QueueId {
				t.Fatalf("key %d went to queues %d and %d", k, q, res.MessageQueue.QueueId)
			}
			keyQueue[k] = res.MessageQueue.QueueId
		}
	}
}

func parseOrdered(t *testing.T, body []byte) [2]int {
	t.Helper()
	var k, i int
	if _, err := fmt.Sscanf(string(body), "%d:%d", &k, &i); err != nil {
		t.Fatalf("unexpected body %q", body)
	}
	return [2]int{k, i}
}

// TestCrossOrderedOfficialProducerSurgeConsumer: the official producer's
// hash selector keeps each sharding key on one queue, and Surge's orderly
// consumer hands each key's messages over in send order, none lost or
// repeated, also while more arrive during consumption.
func TestCrossOrderedOfficialProducerSurgeConsumer(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "CrossOrderIn", 4)
	p := startProducer(t, c, producer.WithQueueSelector(producer.NewHashQueueSelector()))
	const keys, perKey = 6, 40
	keyQueue := map[int]int{}
	sendOrdered(t, p, "CrossOrderIn", keys, 0, perKey/2, keyQueue) // a backlog, then more while the consumer runs
	in := &surgeInbox{}
	startSurgeConsumer(t, c, "cg-cross-order-in", "CrossOrderIn", "*", in.handle, client.WithOrderly(3))
	sendOrdered(t, p, "CrossOrderIn", keys, perKey/2, perKey, keyQueue)
	in.waitCount(t, 30*time.Second, keys*perKey)
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	var seqs [][2]int
	for _, m := range in.messages() {
		seqs = append(seqs, parseOrdered(t, m.Body))
	}
	if err := keyOrder(seqs, keys, perKey); err != nil {
		t.Fatal(err)
	}
}

// TestCrossOrderedSurgeProducerOfficialConsumer: Surge's producer with
// client.ByKey keeps each key on one queue, and the official orderly
// consumer gets each key's messages in send order, none lost or repeated.
//
// Everything is sent before the consumer starts, at most 32 messages per
// queue (one pull each): the v2.1.2 orderly consumer reads its message
// cache without its lock while a pull may be adding to it (see
// TestCompatOrderly).
func TestCrossOrderedSurgeProducerOfficialConsumer(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "CrossOrderOut", 4)
	p := newSurgeProducer(t, c)
	const keys, perKey = 4, 8
	keyQueue := map[int]int32{}
	for i := range perKey {
		for k := range keys {
			m := &client.Message{Topic: "CrossOrderOut", Body: []byte(orderedBody(k, i)), Keys: []string{fmt.Sprint("order-", k)}}
			res, err := p.Send(context.Background(), m, client.WithSelector(client.ByKey(fmt.Sprint("order-", k))))
			if err != nil {
				t.Fatalf("send %s: %v", m.Body, err)
			}
			if q, ok := keyQueue[k]; ok && q != res.Queue.QueueID {
				t.Fatalf("key %d went to queues %d and %d", k, q, res.Queue.QueueID)
			}
			keyQueue[k] = res.Queue.QueueID
		}
	}
	officialOrderly(t, c, "cg-cross-order-out", "CrossOrderOut", keys, perKey)
}

// officialOrderly consumes topic with an official orderly consumer of
// group and fails the test unless each of keys keys' perKey messages
// arrive in order, none lost or repeated.
func officialOrderly(t *testing.T, c *mqtest.Cluster, group, topic string, keys, perKey int) {
	t.Helper()
	in := newInbox()
	startPushConsumer(t, c, group, topic, all, in.callback(consumer.ConsumeSuccess), consumer.WithConsumerOrder(true))
	in.waitFor(t, 30*time.Second, "every message", func(d []delivery) bool { return len(d) >= keys*perKey })
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	var seqs [][2]int
	for _, m := range in.messages() {
		seqs = append(seqs, parseOrdered(t, m.Body))
	}
	if err := keyOrder(seqs, keys, perKey); err != nil {
		t.Fatalf("%v; all: %s", err, summarize(in.deliveries()))
	}
}
