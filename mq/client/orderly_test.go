package client_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

func TestOrderlyConsumer(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "O", 4)
	p := newProducer(t, c)
	for i := range 10 {
		body := fmt.Sprint("k:", i)
		if i == 3 {
			body = "poison"
		}
		if _, err := p.Send(context.Background(), &client.Message{Topic: "O", Body: []byte(body)}, client.WithSelector(client.ByKey("k"))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var order []string
	tries := 0
	h := func(ctx context.Context, msgs []*client.MessageExt) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if string(m.Body) == "poison" {
				tries++
				return fmt.Errorf("cannot handle it")
			}
			order = append(order, string(m.Body))
		}
		return nil
	}
	cons, err := client.NewPushConsumer("cg-o", client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst(), client.WithOrderly(2))
	if err != nil {
		t.Fatal(err)
	}
	cons.Subscribe("O", "*", h)
	if err := cons.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	waitUntil(t, 15*time.Second, "the messages after the poison one", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) >= 9
	})
	mu.Lock()
	defer mu.Unlock()
	if tries < 3 {
		t.Fatalf("poison tried %d times, want 1 + 2 local retries", tries)
	}
	for i, b := range order[:9] {
		want := i
		if i >= 3 {
			want = i + 1
		}
		if b != fmt.Sprint("k:", want) {
			t.Fatalf("position %d: %s, want k:%d (order %v)", i, b, want, order)
		}
	}
}
