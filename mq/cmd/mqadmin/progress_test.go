package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// TestConsumerProgressOwners: consumerProgress names the client that holds
// each queue, as the client itself reports it (GET_CONSUMER_RUNNING_INFO
// relayed by the broker).
func TestConsumerProgressOwners(t *testing.T) {
	c := mqtest.Start(t)
	if out, err := admin(t, c, "updateTopic", "-t", "Owned", "-r", "2", "-w", "2"); err != nil {
		t.Fatalf("updateTopic: %v %s", err, out)
	}
	waitFor(t, func() bool { _, err := admin(t, c, "topicRoute", "-t", "Owned"); return err == nil })
	if out, err := admin(t, c, "sendMessage", "-t", "Owned", "-body", "x"); err != nil {
		t.Fatalf("sendMessage: %v %s", err, out)
	}
	got := make(chan struct{}, 1)
	cons, err := client.NewPushConsumer("owners", client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst())
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	if err := cons.Subscribe("Owned", "*", func(context.Context, []*client.MessageExt) error {
		select {
		case got <- struct{}{}:
		default:
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("the consumer got nothing")
	}
	var out string
	waitFor(t, func() bool {
		out, err = admin(t, c, "consumerProgress", "-g", "owners", "-t", "Owned")
		if err != nil || !strings.Contains(out, "#Client") {
			return false
		}
		owned := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "Owned ") && strings.Contains(line, "127.0.0.1:") {
				owned++
			}
		}
		return owned == 2
	})
	if !strings.Contains(out, "Clients: 1") {
		t.Fatalf("consumerProgress:\n%s", out)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
