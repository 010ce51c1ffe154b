package loadtest

import (
	"context"
	"fmt"

	"github.com/surge-mq/surge/mq/client"
)

// BacklogReader reads a consumer group's lag and progress.
type BacklogReader interface {
	// Backlog returns the messages stored but not yet consumed and the sum
	// of the group's committed offsets.
	Backlog(ctx context.Context) (backlog, consumed int64, err error)
}

// ConsumerLag reads a group's lag on a topic with the SDK's Admin API.
type ConsumerLag struct {
	Admin *client.Admin
	Group string
	Topic string
}

// Backlog implements BacklogReader.
func (c ConsumerLag) Backlog(ctx context.Context) (backlog, consumed int64, err error) {
	progress, err := c.Admin.ConsumerProgress(ctx, c.Group, c.Topic)
	if err != nil {
		return 0, 0, fmt.Errorf("consumer progress of %s on %s: %w", c.Group, c.Topic, err)
	}
	for _, o := range progress {
		done := max(o.ConsumerOffset, 0) // -1: nothing committed yet
		backlog += max(o.BrokerOffset-done, 0)
		consumed += done
	}
	return backlog, consumed, nil
}
