package bench

import (
	"context"
	"fmt"

	"github.com/surge-mq/surge/mq/client"
)

// SurgeDriver drives Surge's own client (mq/client).
type SurgeDriver struct{}

// Name implements Driver.
func (SurgeDriver) Name() string { return "surge" }

// NewProducer implements Driver: a producer of group benchmark_producer
// that never compresses, so every message carries o.Size bytes.
func (SurgeDriver) NewProducer(_ context.Context, o Options) (Producer, error) {
	p, err := client.NewProducer(client.WithNameServers(o.Namesrv...), client.WithGroup("benchmark_producer"), client.WithCompressOver(-1))
	if err != nil {
		return nil, err
	}
	return surgeProducer{p, o.Topic}, nil
}

// Consume implements Driver with a push consumer.
func (SurgeDriver) Consume(ctx context.Context, o Options, got func(int64)) error {
	c, err := client.NewPushConsumer(o.Group, client.WithNameServers(o.Namesrv...), client.WithConsumeFromFirst(), client.WithPullBatchSize(o.PullBatch))
	if err != nil {
		return err
	}
	err = c.Subscribe(o.Topic, "*", func(_ context.Context, msgs []*client.MessageExt) error {
		for _, m := range msgs {
			got(m.StoreTimestamp)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start the consumer: %w", err)
	}
	<-ctx.Done()
	return c.Close()
}

type surgeProducer struct {
	p     *client.Producer
	topic string
}

func (s surgeProducer) Send(ctx context.Context, body []byte) error {
	_, err := s.p.Send(ctx, &client.Message{Topic: s.topic, Body: body})
	return err
}

func (s surgeProducer) SendAsync(ctx context.Context, body []byte) error {
	done := make(chan error, 1)
	if err := s.p.SendAsync(ctx, &client.Message{Topic: s.topic, Body: body}, func(_ *client.SendResult, err error) { done <- err }); err != nil {
		return err
	}
	return <-done
}

func (s surgeProducer) SendOneway(ctx context.Context, body []byte) error {
	return s.p.SendOneway(ctx, &client.Message{Topic: s.topic, Body: body})
}

func (s surgeProducer) SendBatch(ctx context.Context, body []byte, n int) error {
	msgs := make([]*client.Message, n)
	for i := range msgs {
		msgs[i] = &client.Message{Topic: s.topic, Body: body}
	}
	_, err := s.p.SendBatch(ctx, msgs)
	return err
}

func (s surgeProducer) Close() error { return s.p.Close() }
