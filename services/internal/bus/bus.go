// Package bus connects a service to the Surge broker: it makes sure the
// topics exist, starts consumers, and checks the broker for /readyz.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
)

// Topics are the topics the services use.
var Topics = []string{events.TopicOrder, events.TopicStock, events.TopicSeckill}

// EnsureTopics creates the topics that have no route yet (8 queues on
// every master) and waits until the NameServers route them, so that a
// consumer can subscribe before anything was sent. Existing topics are
// left as they are.
func EnsureTopics(ctx context.Context, admin *client.Admin, topics ...string) error {
	for _, t := range topics {
		_, err := admin.TopicRoute(ctx, t)
		if err == nil {
			continue
		}
		if !errors.Is(err, client.ErrTopicNotFound) {
			return fmt.Errorf("bus: route of %s: %w", t, err)
		}
		if err := admin.CreateTopic(ctx, "", client.TopicConfig{Name: t}); err != nil {
			return fmt.Errorf("bus: %w", err)
		}
		for {
			if _, err := admin.TopicRoute(ctx, t); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("bus: topic %s created but not routed: %w", t, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// Ready returns a readiness check: a NameServer answers and routes at
// least one broker.
func Ready(admin *client.Admin) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ci, err := admin.ClusterInfo(ctx)
		if err != nil {
			return err
		}
		if len(ci.BrokerAddrTable) == 0 {
			return errors.New("no broker registered with the NameServer")
		}
		return nil
	}
}

// Subscription is a topic, a tag expression and its handler.
type Subscription struct {
	Topic   string
	Expr    string
	Handler client.Handler
}

// StartConsumer starts a clustering consumer of group on subs. A new
// group starts from the oldest message, so that events sent before the
// service first ran are not missed (the handlers are idempotent).
func StartConsumer(ctx context.Context, namesrvs []string, group string, log *slog.Logger, subs ...Subscription) (*client.Consumer, error) {
	c, err := client.NewPushConsumer(group, client.WithNameServers(namesrvs...), client.WithConsumeFromFirst(), client.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", group, err)
	}
	for _, s := range subs {
		if err := c.Subscribe(s.Topic, s.Expr, s.Handler); err != nil {
			c.Close()
			return nil, fmt.Errorf("bus: consumer %s: %w", group, err)
		}
	}
	if err := c.Start(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("bus: consumer %s: %w", group, err)
	}
	return c, nil
}
