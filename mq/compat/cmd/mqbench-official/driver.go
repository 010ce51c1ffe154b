package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/surge-mq/surge/mq/bench"
)

// officialDriver drives rocketmq-client-go v2.1.2 with its defaults, but
// for the settings mqbench's Surge driver also makes: producer group
// benchmark_producer, no compression.
type officialDriver struct{}

func (officialDriver) Name() string { return "rocketmq-client-go/v2.1.2" }

// instances numbers client instances: the official client shares one
// instance between the producers and consumers of a process that have the
// same name, and a second user of a live one races with it.
var instances atomic.Int64

func instanceName() string {
	return fmt.Sprintf("mqbench-%d-%d", os.Getpid(), instances.Add(1))
}

func (officialDriver) NewProducer(_ context.Context, o bench.Options) (bench.Producer, error) {
	p, err := producer.NewDefaultProducer(
		producer.WithNameServer(o.Namesrv),
		producer.WithGroupName("benchmark_producer"),
		producer.WithInstanceName(instanceName()),
		producer.WithCompressMsgBodyOverHowmuch(math.MaxInt32),
	)
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return officialProducer{p, o.Topic}, nil
}

func (officialDriver) Consume(ctx context.Context, o bench.Options, got func(int64)) error {
	c, err := consumer.NewPushConsumer(
		consumer.WithNameServer(o.Namesrv),
		consumer.WithGroupName(o.Group),
		consumer.WithInstance(instanceName()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithPullBatchSize(int32(o.PullBatch)),
	)
	if err != nil {
		return err
	}
	err = c.Subscribe(o.Topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			got(m.StoreTimestamp)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start the consumer: %w", err)
	}
	<-ctx.Done()
	return c.Shutdown()
}

type officialProducer struct {
	p     rocketmq.Producer
	topic string
}

// errStatus is a send the broker answered with a status other than
// SEND_OK.
var errStatus = errors.New("mqbench-official: send not OK")

func checkResult(res *primitive.SendResult, err error) error {
	if err != nil {
		return err
	}
	if res.Status != primitive.SendOK {
		return fmt.Errorf("%w: status %d", errStatus, res.Status)
	}
	return nil
}

func (s officialProducer) Send(ctx context.Context, body []byte) error {
	return checkResult(s.p.SendSync(ctx, primitive.NewMessage(s.topic, body)))
}

// SendAsync waits for the first call of the callback: after a failed send
// v2.1.2 goes on to read the missing response and panics in its own
// goroutine (see main's panic handler). The send does not end with the
// run's context, so the sends in flight when a run ends do not fail that
// way; the client's own 3 s timeout still bounds them.
//
// A send refused at once because the client has the topic's route but not
// yet its broker's address (senders racing on a new producer's first
// route lookup) is tried again, up to the producer's 2 retries, as v2.1.2's
// synchronous path does and its asynchronous one does not.
func (s officialProducer) SendAsync(ctx context.Context, body []byte) error {
	done := make(chan error, 1)
	var once sync.Once
	callback := func(_ context.Context, res *primitive.SendResult, err error) {
		once.Do(func() { done <- checkResult(res, err) })
	}
	var err error
	for range 3 {
		err = s.p.SendAsync(context.WithoutCancel(ctx), callback, primitive.NewMessage(s.topic, body))
		if err == nil {
			return <-done
		}
		if !strings.Contains(err.Error(), "route info not found") {
			return err
		}
	}
	return err
}

func (s officialProducer) SendOneway(ctx context.Context, body []byte) error {
	return s.p.SendOneWay(ctx, primitive.NewMessage(s.topic, body))
}

func (s officialProducer) SendBatch(ctx context.Context, body []byte, n int) error {
	msgs := make([]*primitive.Message, n)
	for i := range msgs {
		msgs[i] = primitive.NewMessage(s.topic, body)
	}
	return checkResult(s.p.SendSync(ctx, msgs...))
}

func (s officialProducer) Close() error { return s.p.Shutdown() }
