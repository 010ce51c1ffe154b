package compat_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/surge-mq/surge/mq/client"
)

// countTags counts deliveries per tag ("" = untagged).
func countTags(ds []delivery) map[string]int {
	n := map[string]int{}
	for _, d := range ds {
		n[d.msg.GetTags()]++
	}
	return n
}

// TestCompatTagFilter: push consumers (which pull without a subscription,
// so the broker filters with the heartbeat's) get exactly the tags they
// subscribed: "TagA || TagB", a single tag, and "*" which includes
// untagged messages.
func TestCompatTagFilter(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Tagged", 4)
	p := startProducer(t, c)
	sent := map[string]int{}
	for i := range 6 {
		for _, tag := range []string{"TagA", "TagB", "TagC", ""} {
			m := primitive.NewMessage("Tagged", []byte(fmt.Sprintf("%s-%d", tag, i)))
			if tag != "" {
				m.WithTag(tag)
			}
			sendSync(t, p, m)
			sent[tag]++
		}
	}
	cases := []struct {
		group, expr string
		want        map[string]int
	}{
		{"cg-a-or-b", "TagA || TagB", map[string]int{"TagA": 6, "TagB": 6}},
		{"cg-c", "TagC", map[string]int{"TagC": 6}},
		{"cg-all", "*", sent},
	}
	inboxes := make([]*inbox, len(cases))
	for i, tc := range cases {
		inboxes[i] = newInbox()
		startPushConsumer(t, c, tc.group, "Tagged", tags(tc.expr), inboxes[i].callback(consumer.ConsumeSuccess))
	}
	for i, tc := range cases {
		total := 0
		for _, n := range tc.want {
			total += n
		}
		got := inboxes[i].waitFor(t, 20*time.Second, fmt.Sprintf("%d messages for %q", total, tc.expr),
			func(d []delivery) bool { return len(d) >= total })
		if n := countTags(got); !maps.Equal(n, tc.want) {
			t.Errorf("subscription %q: got tags %v, want %v", tc.expr, n, tc.want)
		}
	}
}

// TestCompatNonASCIITags: tags outside ASCII, including one outside the
// Basic Multilingual Plane, filter correctly. The Go client's heartbeat
// carries tag hash codes computed over UTF-8 bytes, which differ from
// Java's String.hashCode; a broker trusting them drops these messages.
func TestCompatNonASCIITags(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Unicode", 2)
	p := startProducer(t, c)
	tagList := []string{"标签", "Ärger", "emoji😀", "TagA", "其他"}
	for i := range 3 {
		for _, tag := range tagList {
			sendSync(t, p, primitive.NewMessage("Unicode", []byte(fmt.Sprintf("%s-%d", tag, i))).WithTag(tag))
		}
	}
	cases := []struct {
		group, expr string
		want        map[string]int
	}{
		{"cg-cjk-emoji", "标签 || emoji😀", map[string]int{"标签": 3, "emoji😀": 3}},
		{"cg-umlaut", "Ärger", map[string]int{"Ärger": 3}},
		{"cg-mixed", "TagA||其他", map[string]int{"TagA": 3, "其他": 3}},
	}
	inboxes := make([]*inbox, len(cases))
	for i, tc := range cases {
		inboxes[i] = newInbox()
		startPushConsumer(t, c, tc.group, "Unicode", tags(tc.expr), inboxes[i].callback(consumer.ConsumeSuccess))
	}
	for i, tc := range cases {
		total := 0
		for _, n := range tc.want {
			total += n
		}
		got := inboxes[i].waitFor(t, 20*time.Second, fmt.Sprintf("%d messages for %q", total, tc.expr),
			func(d []delivery) bool { return len(d) >= total })
		if n := countTags(got); !maps.Equal(n, tc.want) {
			t.Errorf("subscription %q: got tags %v, want %v", tc.expr, n, tc.want)
		}
	}
}

// TestCompatClustering: two push consumers of one group split the queues
// (each gets some, together all, none twice); when one leaves (the Go
// client just closes its connections), the other takes over all queues
// without waiting for its 20 s periodic rebalance.
func TestCompatClustering(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	const topic, queues = "Split", 4
	createTopic(t, c, topic, queues)
	p := startProducer(t, c)
	in1, in2 := newInbox(), newInbox()
	startPushConsumer(t, c, "cg", topic, all, in1.callback(consumer.ConsumeSuccess))
	c2 := startPushConsumer(t, c, "cg", topic, all, in2.callback(consumer.ConsumeSuccess))

	// count returns, for bodies with prefix, deliveries per body and the
	// queues each consumer got them from.
	count := func(prefix string) (perBody map[string]int, queues1, queues2 map[int]bool) {
		perBody, queues1, queues2 = map[string]int{}, map[int]bool{}, map[int]bool{}
		for _, x := range []struct {
			in *inbox
			qs map[int]bool
		}{{in1, queues1}, {in2, queues2}} {
			for _, d := range x.in.deliveries() {
				if b := string(d.msg.Body); strings.HasPrefix(b, prefix) {
					perBody[b]++
					x.qs[queueID(d.msg)] = true
				}
			}
		}
		return perBody, queues1, queues2
	}
	// Rebalancing settles once a round of one message per queue is
	// delivered exactly once and both consumers take part.
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; ; round++ {
		prefix := fmt.Sprintf("warm-%d-", round)
		for q := range queues {
			sendSync(t, p, primitive.NewMessage(topic, []byte(fmt.Sprint(prefix, q))))
		}
		waitUntil(t, 20*time.Second, "a warm-up round to be delivered", func() bool {
			perBody, _, _ := count(prefix)
			return len(perBody) == queues
		})
		perBody, q1, q2 := count(prefix)
		clean := len(q1) > 0 && len(q2) > 0
		for _, n := range perBody {
			clean = clean && n == 1
		}
		if clean {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two consumers never settled: last round %v, queues %v / %v", perBody, q1, q2)
		}
	}

	const n = 40
	for i := range n {
		sendSync(t, p, primitive.NewMessage(topic, []byte(fmt.Sprint("m-", i))))
	}
	waitUntil(t, 20*time.Second, "all 40 messages across both consumers", func() bool {
		perBody, _, _ := count("m-")
		return len(perBody) == n
	})
	perBody, q1, q2 := count("m-")
	for b, k := range perBody {
		if k != 1 {
			t.Errorf("%s delivered %d times in the steady state", b, k)
		}
	}
	if len(q1) == 0 || len(q2) == 0 {
		t.Errorf("queues consumed: %v and %v; both consumers must get some", q1, q2)
	}
	for q := range q1 {
		if q2[q] {
			t.Errorf("queue %d consumed by both members of the group", q)
		}
	}

	// The second member leaves; the first must take over its queues.
	c2.Shutdown()
	before := len(in1.deliveries())
	start := time.Now()
	for i := range 2 * queues {
		sendSync(t, p, primitive.NewMessage(topic, []byte(fmt.Sprint("after-", i))))
	}
	in1.waitFor(t, 15*time.Second, "the remaining consumer to get every message sent after the other left",
		func(d []delivery) bool {
			seen := map[string]bool{}
			for _, x := range d[before:] {
				seen[string(x.msg.Body)] = true
			}
			for i := range 2 * queues {
				if !seen[fmt.Sprint("after-", i)] {
					return false
				}
			}
			return true
		})
	t.Logf("the remaining consumer had every message %v after the other left", time.Since(start))
}

// TestCompatBroadcasting: two consumers of a broadcasting group each get
// every message once (offsets kept in the client's local store, which
// TestMain points at a temporary directory).
func TestCompatBroadcasting(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Bcast", 4)
	p := startProducer(t, c)
	in1, in2 := newInbox(), newInbox()
	for _, in := range []*inbox{in1, in2} {
		startPushConsumer(t, c, "cg-bcast", "Bcast", all, in.callback(consumer.ConsumeSuccess),
			consumer.WithConsumerModel(consumer.BroadCasting))
	}
	const n = 12
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint("b-", i))
		sendSync(t, p, primitive.NewMessage("Bcast", []byte(want[i])))
	}
	for i, in := range []*inbox{in1, in2} {
		in.waitBodies(t, 20*time.Second, want...)
		for b, k := range in.bodies() {
			if k != 1 {
				t.Errorf("consumer %d got %s %d times", i+1, b, k)
			}
		}
	}
}

// TestCompatOrderly: an orderly consumer (queue locks, one queue at a
// time) gets each sharding key's messages in send order; the producer's
// hash selector keeps a key on one queue.
//
// Everything is sent before the consumer starts, at most 32 messages per
// queue, so each queue arrives in one pull: the v2.1.2 orderly consumer
// reads its message cache without a lock (processQueue.takeMessages), a
// data race whenever a pull lands while it waits.
func TestCompatOrderly(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Ordered", 4)
	p := startProducer(t, c, producer.WithQueueSelector(producer.NewHashQueueSelector()))
	const keys, perKey = 4, 8
	sendOrdered(t, p, "Ordered", keys, 0, perKey, map[int]int{})
	officialOrderly(t, c, "cg-orderly", "Ordered", keys, perKey)
}

// TestCompatLongPollSharedConnection: a producer and a push consumer on one
// client instance share one connection to the broker. The broker parks the
// idle consumer's pulls (long polling, up to 20 s; answering at once would
// make the client pull in a tight loop); meanwhile sends on the same
// connection are answered at once, and each new message wakes the parked
// pull of its queue. A broker that handles a connection's requests one at
// a time, or that does not wake parked pulls, takes seconds here.
func TestCompatLongPollSharedConnection(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	const topic, queues = "Shared", 4
	createTopic(t, c, topic, queues)
	instance := newInstanceName()
	p, err := producer.NewDefaultProducer(producer.WithNameServer([]string{c.NamesrvAddr}),
		producer.WithGroupName("pg-shared"), producer.WithInstanceName(instance))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	in := newInbox()
	// Both are created before either starts: adding a user to a running
	// client instance is a data race inside the client.
	pc := pushConsumer(t, c, "cg-shared", topic, all, in.callback(consumer.ConsumeSuccess), consumer.WithInstance(instance))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	// Warm up until a message on every queue has come back: then the
	// consumer holds all queues and, having nothing left, parks a pull on
	// each, as the broker's runtime info shows (Surge's admin client asks:
	// the official one cannot).
	for q := range queues {
		sendSync(t, p, primitive.NewMessage(topic, []byte(fmt.Sprint("warm-", q))))
	}
	in.waitBodies(t, 20*time.Second, "warm-0", "warm-1", "warm-2", "warm-3")
	a, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	held := ""
	waitUntil(t, 10*time.Second, "the broker to hold a pull on every queue", func() bool {
		info, err := a.BrokerRuntime(context.Background(), c.BrokerAddr)
		if err != nil {
			t.Fatalf("broker runtime info: %v", err)
		}
		held = info["pullRequestsHeld"]
		n, _ := strconv.Atoi(held)
		return n >= queues
	})
	t.Logf("pulls held: %s", held)

	var sendLatency, deliveryLatency []time.Duration
	for round := range 3 {
		var want []string
		sentAt := map[string]time.Time{}
		for q := range queues {
			body := fmt.Sprintf("r%d-%d", round, q)
			want = append(want, body)
			start := time.Now()
			sendSync(t, p, primitive.NewMessage(topic, []byte(body)))
			sendLatency = append(sendLatency, time.Since(start))
			sentAt[body] = start
		}
		for _, d := range in.waitBodies(t, 20*time.Second, want...) {
			if at, ok := sentAt[string(d.msg.Body)]; ok {
				deliveryLatency = append(deliveryLatency, d.at.Sub(at))
			}
		}
	}
	t.Logf("send latency max %v, delivery latency max %v", slices.Max(sendLatency), slices.Max(deliveryLatency))
	if m := slices.Max(sendLatency); m > time.Second {
		t.Errorf("a send on the connection of parked pulls took %v; latencies %v", m, sendLatency)
	}
	if m := slices.Max(deliveryLatency); m > 2*time.Second {
		t.Errorf("a message took %v to reach a consumer whose pull was parked on its queue; latencies %v", m, deliveryLatency)
	}
}
