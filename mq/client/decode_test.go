package client_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/mq/protocol"
)

// TestCompressedBodies: bodies the producer compressed (over 4 KiB) reach
// the push consumer, the pull consumer and the admin API as sent. (They
// used to arrive as raw zlib bytes.)
func TestCompressedBodies(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Zip", 2)
	p := newProducer(t, c)
	bodies := map[string]bool{}
	var ids []string
	for i := range 4 {
		body := fmt.Sprintf("%d:%s", i, bytes.Repeat([]byte("compressible "), 1000)) // 13 KB
		bodies[body] = true
		res, err := p.Send(context.Background(), &client.Message{Topic: "Zip", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.OffsetMsgID)
	}

	col := newCollector()
	newConsumer(t, c, "zip-push", "Zip", "*", col.handle(nil))
	waitUntil(t, 15*time.Second, "four messages", func() bool { return col.distinct() >= 4 })
	for body := range bodies {
		if col.count(body) == 0 {
			t.Fatalf("the push consumer got %d distinct bodies, not the ones sent", col.distinct())
		}
	}

	pc := newPullConsumer(t, c, "zip-pull")
	if err := pc.Subscribe("Zip", "*"); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, got := range poll(t, pc, 4) {
		if !bodies[got] {
			t.Fatalf("the pull consumer got a %d-byte body that was not sent", len(got))
		}
	}

	a, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m, err := a.ViewMessage(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bodies[string(m.Body)] || m.SysFlag&protocol.FlagCompressed != 0 {
		t.Fatalf("ViewMessage: %d-byte body, sysFlag %#x", len(m.Body), m.SysFlag)
	}
}
