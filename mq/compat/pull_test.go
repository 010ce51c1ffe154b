package compat_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestCompatPullConsumer: the official pull consumer reads a queue at
// given offsets. Its pulls carry the subscription expression (sysFlag bit
// 2) and it refuses TAG pulls unless the broker's heartbeat answer carries
// a version of at least 4.1.0. Offsets and the min/max/next offsets of
// the answers match the send results; an offset past the end is "offset
// illegal", with a valid offset to go on from.
func TestCompatPullConsumer(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "Pulled", 1)
	p := startProducer(t, c)
	const n = 10
	offsetOf := map[string]int64{}
	for i := range n {
		body := fmt.Sprint("p-", i)
		tag := "TagA"
		if i%2 == 1 {
			tag = "TagB"
		}
		offsetOf[body] = sendSync(t, p, primitive.NewMessage("Pulled", []byte(body)).WithTag(tag)).QueueOffset
	}
	pc, err := consumer.NewPullConsumer(consumer.WithNameServer([]string{c.NamesrvAddr}),
		consumer.WithGroupName("cg-pull"), consumer.WithInstance(newInstanceName()))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("Pulled", tags("TagA")); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatalf("start pull consumer: %v", err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	mq := &primitive.MessageQueue{Topic: "Pulled", BrokerName: brokerName, QueueId: 0}
	ctx := context.Background()

	res, err := pc.PullFrom(ctx, mq, 0, 32)
	if err != nil {
		t.Fatalf("PullFrom offset 0: %v", err)
	}
	if res.Status != primitive.PullFound || res.NextBeginOffset != n || res.MinOffset != 0 || res.MaxOffset != n {
		t.Errorf("pull from 0: status %v next %d min %d max %d, want found, %d, 0, %d", res.Status, res.NextBeginOffset, res.MinOffset, res.MaxOffset, n, n)
	}
	var got []string
	for _, m := range res.GetMessageExts() {
		got = append(got, string(m.Body))
		if m.QueueOffset != offsetOf[string(m.Body)] || m.GetTags() != "TagA" {
			t.Errorf("%s at offset %d with tag %q, sent to offset %d with TagA", m.Body, m.QueueOffset, m.GetTags(), offsetOf[string(m.Body)])
		}
	}
	if want := "[p-0 p-2 p-4 p-6 p-8]"; fmt.Sprint(got) != want {
		t.Errorf("pulled %v, want %s", got, want)
	}

	res, err = pc.PullFrom(ctx, mq, 3, 2)
	if err != nil {
		t.Fatalf("PullFrom offset 3: %v", err)
	}
	if ms := res.GetMessageExts(); res.Status != primitive.PullFound || len(ms) == 0 || len(ms) > 2 || string(ms[0].Body) != "p-4" {
		t.Errorf("pull 2 from offset 3: status %v, %s; want p-4 first and at most 2", res.Status, summarizeMsgs(ms))
	}

	res, err = pc.PullFrom(ctx, mq, n+5, 1)
	if err != nil {
		t.Fatalf("PullFrom past the end: %v", err)
	}
	// Java answers with the min offset when it is 0, else the max.
	if res.Status != primitive.PullOffsetIllegal || res.NextBeginOffset != 0 {
		t.Errorf("pull past the end: status %v next %d, want offset illegal, next 0 (the min offset)", res.Status, res.NextBeginOffset)
	}
}

func summarizeMsgs(ms []*primitive.MessageExt) string {
	var ds []delivery
	for _, m := range ms {
		ds = append(ds, delivery{msg: m})
	}
	return summarize(ds)
}
