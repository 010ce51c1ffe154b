package compat_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// TestCrossSurgeProducerOfficialConsumer: messages from Surge's producer
// (single, batch, compressed, ordered by key) reach the official consumer
// intact, tags and keys included.
func TestCrossSurgeProducerOfficialConsumer(t *testing.T) {
	c := mqtest.Start(t)
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
	r := newReceived()
	newPushConsumer(t, c, "cg-cross", "Cross", consumer.MessageSelector{Type: consumer.TAG, Expression: "T"}, r)
	got := r.waitFor(t, 30*time.Second, "every message", atLeast(len(want)+1))
	last, sawBig := -1, false
	for _, m := range got {
		if bytes.Equal(m.Body, big) {
			sawBig = true
			continue
		}
		var i int
		if _, err := fmt.Sscanf(string(m.Body), "ordered-%d", &i); err == nil {
			if i != last+1 || m.GetKeys() != "k" {
				t.Fatalf("ordered-%d after ordered-%d (keys %q)", i, last, m.GetKeys())
			}
			last = i
		}
		delete(want, string(m.Body))
	}
	if len(want) != 0 || !sawBig {
		t.Fatalf("missing %v (compressed body intact: %v)", want, sawBig)
	}
}
