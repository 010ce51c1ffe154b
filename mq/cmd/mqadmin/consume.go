package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
)

// The commands that move messages: consumeMessage and RocketMQ's
// quick-start pair (tools.sh ... quickstart.Producer / Consumer).

func consumerConnection(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-g", o.group, "-t", o.topic); err != nil {
		return err
	}
	cc, err := a.ConsumerConnections(ctx, o.group, o.topic)
	if err != nil {
		return err
	}
	var rows [][]string
	for i, c := range cc.ConnectionSet {
		rows = append(rows, []string{itoa(int64(i + 1)), c.ClientID, c.ClientAddr, c.Language, itoa(int64(c.Version))})
	}
	if err := table(out, o, cc, []string{"#", "#ClientId", "#ClientAddr", "#Language", "#Version"}, rows); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(out, "\nConsumeType: %s\nMessageModel: %s\nConsumeFromWhere: %s\n", cc.ConsumeType, cc.MessageModel, cc.ConsumeFromWhere)
	}
	return nil
}

// consumeN consumes a topic from its first message until n messages
// arrived or ctx ends, printing each.
func consumeN(ctx context.Context, o options, group string, n int, out io.Writer) error {
	c, err := client.NewPushConsumer(group, client.WithNameServers(broker.SplitNamesrvAddr(o.namesrv)...), client.WithConsumeFromFirst())
	if err != nil {
		return err
	}
	var mu sync.Mutex
	got := 0
	done := make(chan struct{})
	expr := "*"
	if o.tags != "" {
		expr = o.tags
	}
	err = c.Subscribe(o.topic, expr, func(_ context.Context, msgs []*client.MessageExt) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if got >= n {
				break
			}
			got++
			fmt.Fprintf(out, "Receive: topic=%s queueId=%d queueOffset=%d msgId=%s tags=%s body=%s\n", m.Topic, m.QueueID, m.QueueOffset, m.MsgID, m.Tags(), m.Body)
			if got == n {
				close(done)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	defer c.Close()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("received %d of %d messages before stopping", got, n)
	}
}

func consumeMessage(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	return consumeN(ctx, o, fmt.Sprint("mqadmin_consume_", time.Now().UnixNano()), o.count, out)
}

// quickstartProducer sends 1000 messages to TopicTest with tag TagA, as
// RocketMQ's quick start does.
func quickstartProducer(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	p, err := client.NewProducer(client.WithNameServers(broker.SplitNamesrvAddr(o.namesrv)...), client.WithGroup("please_rename_unique_group_name"))
	if err != nil {
		return err
	}
	defer p.Close()
	for i := range o.count {
		res, err := p.Send(ctx, &client.Message{Topic: "TopicTest", Tags: "TagA", Body: []byte(fmt.Sprint("Hello RocketMQ ", i))})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "SendResult [sendStatus=SEND_OK, msgId=%s, offsetMsgId=%s, queueId=%d, queueOffset=%d]\n", res.MsgID, res.OffsetMsgID, res.Queue.QueueID, res.QueueOffset)
	}
	return nil
}

// quickstartConsumer consumes TopicTest in a group, printing what arrives.
func quickstartConsumer(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	o.topic = "TopicTest"
	ctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	return consumeN(ctx, o, "please_rename_unique_group_name_4", o.count, out)
}
