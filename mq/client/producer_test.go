package client_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/store"
)

func newProducer(t *testing.T, c *mqtest.Cluster, opts ...client.Option) *client.Producer {
	t.Helper()
	p, err := client.NewProducer(append([]client.Option{client.WithNameServers(c.NamesrvAddr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// stored reads every message of a topic from the broker's store.
func stored(t *testing.T, c *mqtest.Cluster, topic string) []*protocol.Message {
	t.Helper()
	var out []*protocol.Message
	for q := range int32(8) {
		res, err := c.Broker.Store().GetMessages(store.GetRequest{Topic: topic, QueueID: q, MaxCount: 1000, MaxBytes: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := protocol.DecodeMessages(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msgs...)
	}
	return out
}

func TestProducerSendKinds(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c, client.WithGroup("pg"))
	ctx := context.Background()
	res, err := p.Send(ctx, &client.Message{Topic: "P", Body: []byte("one"), Tags: "A", Keys: []string{"k1", "k2"}, Properties: map[string]string{"x": "y"}})
	if err != nil || res.Status != client.SendOK || len(res.MsgID) != 32 || len(res.OffsetMsgID) != 32 {
		t.Fatalf("Send: %+v %v", res, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	if err := p.SendAsync(ctx, &client.Message{Topic: "P", Body: []byte("two")}, func(r *client.SendResult, err error) {
		defer wg.Done()
		if err != nil {
			t.Errorf("async: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := p.SendOneway(ctx, &client.Message{Topic: "P", Body: []byte("three")}); err != nil {
		t.Fatal(err)
	}
	batch := []*client.Message{{Topic: "P", Body: []byte("b1")}, {Topic: "P", Body: []byte("b2")}}
	if res, err := p.SendBatch(ctx, batch); err != nil || res.QueueOffset < 0 {
		t.Fatalf("batch: %v %v", res, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(stored(t, c, "P")) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("stored %d of 5", len(stored(t, c, "P")))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range stored(t, c, "P") {
		if string(m.Body) == "one" && (m.Property("TAGS") != "A" || m.Property("KEYS") != "k1 k2" || m.Property("x") != "y" || m.Property("UNIQ_KEY") != res.MsgID) {
			t.Fatalf("properties: %q", m.Properties)
		}
	}
}

func TestProducerByKeyKeepsOrder(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c)
	queues := map[int32]bool{}
	for i := range 20 {
		res, err := p.Send(context.Background(), &client.Message{Topic: "Ord", Body: []byte(fmt.Sprint(i))}, client.WithSelector(client.ByKey("order-7")))
		if err != nil {
			t.Fatal(err)
		}
		queues[res.Queue.QueueID] = true
	}
	if len(queues) != 1 {
		t.Fatalf("one key spread over queues %v", queues)
	}
}

func TestProducerCompressesLargeBodies(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c)
	body := bytes.Repeat([]byte("abc"), 5000)
	if _, err := p.Send(context.Background(), &client.Message{Topic: "Z", Body: body}); err != nil {
		t.Fatal(err)
	}
	m := stored(t, c, "Z")[0]
	if m.SysFlag&protocol.FlagCompressed == 0 || len(m.Body) >= len(body) {
		t.Fatalf("not compressed: flag %d, %d bytes", m.SysFlag, len(m.Body))
	}
	r, _ := zlib.NewReader(bytes.NewReader(m.Body))
	if plain, _ := io.ReadAll(r); !bytes.Equal(plain, body) {
		t.Fatal("compressed body does not inflate to the original")
	}
}

func TestProducerErrors(t *testing.T) {
	off := false
	c := mqtest.Start(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) { cfg.AutoCreateTopicEnable = &off; cfg.Store.MaxMessageSize = 64 << 10 }))
	p := newProducer(t, c, client.WithCompressOver(-1))
	_, err := p.Send(context.Background(), &client.Message{Topic: "Nope", Body: []byte("x")})
	if !errors.Is(err, client.ErrTopicNotFound) {
		t.Fatalf("unknown topic: %v", err)
	}
	_, err = p.Send(context.Background(), &client.Message{Topic: "SELF_TEST_TOPIC", Body: make([]byte, 100<<10)})
	if !errors.Is(err, client.ErrNoPermission) && !errors.Is(err, client.ErrMessageTooLarge) {
		t.Fatalf("system topic / too large: %v", err)
	}
	p.Close()
	if _, err := p.Send(context.Background(), &client.Message{Topic: "x"}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
