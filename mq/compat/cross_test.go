package compat_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/protocol"
)

// TestCrossSurgeProducerOfficialConsumer: messages from Surge's producer
// (single, batch, compressed, ordered by key) reach the official consumer
// intact, tags and keys included.
func TestCrossSurgeProducerOfficialConsumer(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	p, err := client.NewProducer(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	big := bytes.Repeat([]byte("z"), 10_000)
	want := map[string]bool{}
	for i := range 10 {
		body := fmt.Sprint("ordered-", i)
		if _, err := p.Send(ctx, &client.Message{Topic: "Cross", Body: []byte(body), Tags: "T", Keys: []string{"k"}}, client.WithSelector(client.ByKey("k"))); err != nil {
			t.Fatal(err)
		}
		want[body] = true
	}
	if _, err := p.Send(ctx, &client.Message{Topic: "Cross", Body: big, Tags: "T"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendBatch(ctx, []*client.Message{{Topic: "Cross", Body: []byte("b1"), Tags: "T"}, {Topic: "Cross", Body: []byte("b2"), Tags: "T"}}); err != nil {
		t.Fatal(err)
	}
	want["b1"], want["b2"] = true, true
	in := newInbox()
	waitTopicListed(t, c, "Cross", true) // auto-created: routed once the broker registers it
	startPushConsumer(t, c, "cg-cross", "Cross", tags("T"), in.callback(consumer.ConsumeSuccess))
	in.waitFor(t, 30*time.Second, "every message", func(d []delivery) bool { return len(d) >= len(want)+1 })
	// The consumer is concurrent, so arrival order means nothing; the
	// key's messages must sit in one queue in send order.
	type pos struct {
		queue  int
		offset int64
	}
	ordered := map[int]pos{}
	sawBig := false
	for _, m := range in.messages() {
		if bytes.Equal(m.Body, big) {
			sawBig = true
			continue
		}
		var i int
		if _, err := fmt.Sscanf(string(m.Body), "ordered-%d", &i); err == nil {
			if m.GetKeys() != "k" || m.GetTags() != "T" {
				t.Errorf("ordered-%d: keys %q tag %q, want k and T", i, m.GetKeys(), m.GetTags())
			}
			ordered[i] = pos{queueID(m), m.QueueOffset}
		}
		delete(want, string(m.Body))
	}
	for i := 1; i < len(ordered); i++ {
		if p, q := ordered[i-1], ordered[i]; q.queue != p.queue || q.offset <= p.offset {
			t.Errorf("ordered-%d at q%d@%d, ordered-%d at q%d@%d: not one queue in send order", i-1, p.queue, p.offset, i, q.queue, q.offset)
		}
	}
	if len(want) != 0 || !sawBig {
		t.Fatalf("missing %v (compressed body intact: %v)", want, sawBig)
	}
}

// TestCrossOfficialProducerSurgeConsumer: messages from the official
// producer (single and batch) reach Surge's push consumer intact:
// body, tag, keys, user properties and unique ID, with the tag filter
// applied on the broker.
func TestCrossOfficialProducerSurgeConsumer(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t)
	createTopic(t, c, "CrossIn", 4)
	p := startProducer(t, c)
	type sent struct {
		tag, keys string
		props     map[string]string
		msgID     string
	}
	want := map[string]*sent{}
	for i := range 12 {
		body := fmt.Sprint("single-", i)
		tag := []string{"A", "B", "Skip"}[i%3]
		m := primitive.NewMessage("CrossIn", []byte(body))
		m.WithTag(tag)
		m.WithKeys([]string{fmt.Sprint("order-", i), "user-7"})
		m.WithProperty("tenant", "acme")
		m.WithProperty("note", "café ✓")
		res := sendSync(t, p, m)
		if tag != "Skip" {
			want[body] = &sent{tag, fmt.Sprintf("order-%d user-7", i), map[string]string{"tenant": "acme", "note": "café ✓"}, res.MsgID}
		}
	}
	var batch []*primitive.Message
	for _, body := range []string{"batch-1", "batch-2", "batch-3"} {
		bm := primitive.NewMessage("CrossIn", []byte(body))
		bm.WithTag("B")
		bm.WithKeys([]string{body})
		batch = append(batch, bm)
		want[body] = &sent{tag: "B", keys: body}
	}
	sendSync(t, p, batch...)
	// Over 4 KiB: the official producer compresses it, our consumer
	// inflates it.
	big := "big-" + strings.Repeat("compressible ", 800)
	bm := primitive.NewMessage("CrossIn", []byte(big))
	bm.WithTag("A")
	sendSync(t, p, bm)
	want[big] = &sent{tag: "A"}

	in := &surgeInbox{}
	startSurgeConsumer(t, c, "cg-cross-in", "CrossIn", "A||B", in.handle)
	in.waitCount(t, 30*time.Second, len(want))
	for _, got := range in.messages() {
		body := string(got.Body)
		w, ok := want[body]
		if !ok {
			t.Errorf("unexpected or repeated message %.24q tag %q", body, got.Tags())
			continue
		}
		delete(want, body)
		if got.Tags() != w.tag {
			t.Errorf("%.24q: tag %q, want %q", body, got.Tags(), w.tag)
		}
		if w.keys != "" && got.Property(protocol.PropertyKeys) != w.keys {
			t.Errorf("%.24q: keys %q, want %q", body, got.Property(protocol.PropertyKeys), w.keys)
		}
		for k, v := range w.props {
			if got.Property(k) != v {
				t.Errorf("%.24q: property %s = %q, want %q", body, k, got.Property(k), v)
			}
		}
		if w.msgID != "" && got.MsgID != w.msgID {
			t.Errorf("%.24q: message ID %q, the official producer was told %q", body, got.MsgID, w.msgID)
		}
	}
	if len(want) != 0 {
		t.Errorf("%d messages never arrived", len(want))
	}
}
